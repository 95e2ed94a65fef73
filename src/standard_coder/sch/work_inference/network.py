"""The neural HMM's start/stop network in numpy: forward, exact gradient, Adam (no torch).

A 5 -> hidden -> hidden -> 2 tanh network evaluated on the grid of (week minute, time bin)
cells, float32 as ``torch.nn.Linear`` would be. Its gradient is written out by hand: the
surrogate ``Q = sum n_cc log(1-E) + n_cn log E + n_nc log S + n_nn log(1-S)`` with
``S = sigmoid(l_s)``, ``E = sigmoid(l_e)`` has ``dQ/dl_s = n_nc - (n_nc + n_nn) S`` and
``dQ/dl_e = n_cn - (n_cc + n_cn) E``, and the layers pass it back as usual. Work inference
therefore never imports torch (about 2 s of CPU per worker process); the gradient equals
torch's autograd to float32 rounding (tests/unit/test_hmm_network.py checks both).

With the break state (``ffbs4``) the network has a third output, ``B = b_max sigmoid(l_b)``,
the probability that a coding minute breaks off inside a session (at most ``b_max``); with
``s = sigmoid(l_b)``, ``dQ/dl_b = n_break (1 - s) - n_stay b_max s (1 - s) / (1 - B)`` from the
expected coding-to-break (``n_break``) and coding-to-coding (``n_stay``) transitions.

Buffers are kept between steps: an epoch allocates nothing of the grid's size. The matrix
products run in BLAS; tanh is a numba kernel (Eigen's float32 rational approximation, within
4e-7 of the exact value, about 4x faster than ``np.tanh`` on float32: the two tanh layers
were most of an epoch's network time).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["Adam", "GridNet", "probabilities", "surrogate_grad", "tanh_bias"]

_F = np.float32
# Eigen's generic_fast_tanh_float: odd 13/6 rational approximation, inputs clamped to +-7.9053
_A = tuple(
    _F(v)
    for v in (
        4.89352455891786e-03,
        6.37261928875436e-04,
        1.48572235717979e-05,
        5.12229709037114e-08,
        -8.60467152213735e-11,
        2.00018790482477e-13,
        -2.76076847742355e-16,
    )
)
_B = tuple(
    _F(v)
    for v in (
        4.89352518554385e-03,
        2.26843463243900e-03,
        1.18534705686654e-04,
        1.19825839466702e-06,
    )
)
_A1, _A3, _A5, _A7, _A9, _A11, _A13 = _A
_B0, _B2, _B4, _B6 = _B
_CLAMP = _F(7.90531110763549805)
_ONE = _F(1.0)


# error_model="numpy": no ZeroDivisionError branch, so the loops vectorise (AVX2: 8 floats)
@njit(cache=True, error_model="numpy")
def tanh_bias(a: np.ndarray, bias: np.ndarray) -> None:
    """In place: ``a = tanh(a + bias)`` (float32, rows of ``a`` plus the vector ``bias``)."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            x = a[i, j] + bias[j]
            x = min(max(x, -_CLAMP), _CLAMP)
            x2 = x * x
            p = x2 * _A13 + _A11
            p = x2 * p + _A9
            p = x2 * p + _A7
            p = x2 * p + _A5
            p = x2 * p + _A3
            p = x2 * p + _A1
            q = x2 * _B6 + _B4
            q = x2 * q + _B2
            q = x2 * q + _B0
            a[i, j] = x * p / q


@njit(cache=True, error_model="numpy")
def _times_dtanh(back: np.ndarray, h: np.ndarray) -> None:
    """In place: ``back *= 1 - h**2`` (tanh's derivative at its output ``h``)."""
    n, m = back.shape
    for i in range(n):
        for j in range(m):
            back[i, j] *= _ONE - h[i, j] * h[i, j]


LAYERS = ("0", "2", "4")  # torch.nn.Sequential's names of the three Linear layers
_BLOCK = 4096  # grid rows per block: a block's temporaries (256 KB each) stay in the cache


class GridNet:
    """The network's weights and one evaluation's activations on a fixed input grid."""

    def __init__(
        self,
        grid: np.ndarray,
        hidden: int,
        seed: int,
        break_prob: float | None = None,
        break_max: float = 1.0,
    ) -> None:
        """``break_prob``: a third output, the break probability (at most ``break_max``),
        starting there."""
        rng = np.random.default_rng(seed)
        n_out = 2 if break_prob is None else 3
        shapes = [(hidden, grid.shape[1]), (hidden, hidden), (n_out, hidden)]
        self.params: list[np.ndarray] = []
        for out_dim, in_dim in shapes:  # torch.nn.Linear's default init: U(+-1/sqrt(fan_in))
            bound = 1.0 / math.sqrt(in_dim)
            self.params.append(rng.uniform(-bound, bound, (out_dim, in_dim)).astype(np.float32))
            self.params.append(rng.uniform(-bound, bound, out_dim).astype(np.float32))
        self.params[4] *= np.float32(0.1)  # start near the bias: S = 1/60, E = 1/30 everywhere
        start = [math.log(1 / 60), math.log(1 / 30)]
        if break_prob is not None:
            share = min(break_prob / break_max, 0.5)  # a bound below the start: halfway
            start.append(math.log(share / (1.0 - share)))
        self.params[5][:] = start
        self.grid = np.ascontiguousarray(grid, dtype=np.float32)
        n = self.grid.shape[0]
        self._block = min(n, _BLOCK)
        self._h1 = np.empty((n, hidden), np.float32)  # the last forward's activations
        self._h2 = np.empty((n, hidden), np.float32)
        self._tmp = np.empty((self._block, hidden), np.float32)
        self._tmp2 = np.empty((self._block, hidden), np.float32)
        self._logits = np.empty((n, n_out), np.float32)
        self._ones = np.ones(self._block, np.float32)

    def state(self) -> dict[str, np.ndarray]:
        """The weights under ``torch.nn.Sequential``'s state_dict names (copies)."""
        out = {}
        for i, name in enumerate(LAYERS):
            out[f"{name}.weight"] = self.params[2 * i].copy()
            out[f"{name}.bias"] = self.params[2 * i + 1].copy()
        return out

    def _hidden(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Both hidden layers' outputs for grid rows ``lo:hi`` (views of the block buffers)."""
        w1, b1, w2, b2 = self.params[:4]
        h1, h2 = self._h1[lo:hi], self._h2[lo:hi]
        np.matmul(self.grid[lo:hi], w1.T, out=h1)
        tanh_bias(h1, b1)
        np.matmul(h1, w2.T, out=h2)
        tanh_bias(h2, b2)
        return h1, h2

    def forward(self) -> np.ndarray:
        """Logits ``(l_s, l_e)`` per grid row (a view of a buffer the next call overwrites)."""
        w3, b3 = self.params[4], self.params[5]
        for lo in range(0, self.grid.shape[0], self._block):
            hi = min(lo + self._block, self.grid.shape[0])
            _, h2 = self._hidden(lo, hi)
            np.matmul(h2, w3.T, out=self._logits[lo:hi])
        self._logits += b3
        return self._logits

    def backward(self, grad_logits: np.ndarray) -> list[np.ndarray]:
        """Gradients of every parameter for ``d loss / d logits`` of the last ``forward``.

        Block by block, from the hidden activations ``forward`` kept (two float32 arrays of
        the grid's size, 3.9 MB each at 6 time bins). Computing them again per block, so that
        they stay in the cache, was measured slower: about 8 % more CPU per fit on the
        benchmark's author-year (the two products and two tanh of a block cost more than
        reading the kept rows back)."""
        w2, w3 = self.params[2], self.params[4]
        g_all = np.ascontiguousarray(grad_logits, dtype=np.float32)
        grads = [np.zeros_like(p) for p in self.params]
        for lo in range(0, self.grid.shape[0], self._block):
            hi = min(lo + self._block, self.grid.shape[0])
            h1, h2 = self._h1[lo:hi], self._h2[lo:hi]
            g = g_all[lo:hi]
            ones = self._ones[: hi - lo]  # column sums as products: faster than sum(axis=0)
            grads[4] += g.T @ h2
            grads[5] += ones @ g
            back = self._tmp[: hi - lo]
            np.matmul(g, w3, out=back)  # d/dh2
            _times_dtanh(back, h2)
            grads[2] += back.T @ h1
            grads[3] += ones @ back
            back1 = self._tmp2[: hi - lo]
            np.matmul(back, w2, out=back1)  # d/dh1
            _times_dtanh(back1, h1)
            grads[0] += back1.T @ self.grid[lo:hi]
            grads[1] += ones @ back1
        return grads


@njit(cache=True, error_model="numpy")
def probabilities(
    logits: np.ndarray, probs: np.ndarray, se: np.ndarray, break_max: float = 1.0
) -> None:
    """``probs = sigmoid(logits)`` (float64) and ``se`` its rows clipped to [1e-7, 1 - 1e-7]
    (the forward-backward tables; ``se`` may have more rows, which are left alone); a third
    column (the break probability) is scaled by ``break_max`` in ``se``."""
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            p = 1.0 / (1.0 + np.exp(-np.float64(logits[i, j])))
            probs[i, j] = p
            if j == 2:
                p = p * break_max
            se[i, j] = min(max(p, 1e-7), 1.0 - 1e-7)


@njit(cache=True, error_model="numpy")
def surrogate_grad(
    p: np.ndarray, counts: np.ndarray, scale: float, break_max: float = 1.0
) -> np.ndarray:
    """``d(-Q)/d logits`` per grid row (float32) from ``p = sigmoid(logits)`` (unclipped,
    ``(S, E)`` per row) and the expected transition counts ``(n_cc, n_cn, n_nc, n_nn)`` per
    row times ``scale`` (one over the number of transitions). With a third column of ``p``
    (the break probability ``B``) ``counts`` has two more: coding to coding and coding to a
    break inside the session, and the break probability is ``break_max`` times ``p``'s."""
    n, n_out = p.shape
    out = np.empty((n, n_out), np.float32)
    for i in range(n):
        n_cc = counts[i, 0] * scale
        n_cn = counts[i, 1] * scale
        n_nc = counts[i, 2] * scale
        n_nn = counts[i, 3] * scale
        out[i, 0] = (n_nc + n_nn) * p[i, 0] - n_nc
        out[i, 1] = (n_cc + n_cn) * p[i, 1] - n_cn
        if n_out == 3:
            n_stay = counts[i, 4] * scale
            n_break = counts[i, 5] * scale
            sig = p[i, 2]
            b = break_max * sig
            out[i, 2] = n_stay * break_max * sig * (1.0 - sig) / (1.0 - b) - n_break * (1.0 - sig)
    return out


class Adam:
    """``torch.optim.Adam``'s update (defaults: betas 0.9/0.999, eps 1e-8) on numpy float32."""

    def __init__(
        self,
        params: list[np.ndarray],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self._t = 0
        self._m = [np.zeros_like(p) for p in params]
        self._v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        beta1, beta2 = self.betas
        self._t += 1
        step_size = self.lr / (1 - beta1**self._t)
        bc2_sqrt = math.sqrt(1 - beta2**self._t)
        for p, g, m, v in zip(self.params, grads, self._m, self._v, strict=True):
            m += (g - m) * np.float32(1 - beta1)
            v *= np.float32(beta2)
            v += np.float32(1 - beta2) * g * g
            denom = np.sqrt(v) / np.float32(bc2_sqrt) + np.float32(self.eps)
            p -= np.float32(step_size) * m / denom
