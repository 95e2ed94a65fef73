"""The break-state kernels (``ffbs4``), with a session's opening phase (``start_phase``, four
states) and without it (the three-state chain): every kernel against exact enumeration of
every state path, and a fit that learns sessions of a steady length."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from standard_coder.sch.work_inference import NeuralHMM
from standard_coder.sch.work_inference.ffbs4 import (
    day_empty_logprob4,
    fit_pass4,
    interval_ffbs4,
    last_bouts4,
)

C, B, OFF, W = 0, 1, 2, 3
CODING = (C, W)


PHASES = pytest.mark.parametrize("phase", [True, False], ids=["opening_phase", "three_states"])


def _step(
    prev: int, nxt: int, s: float, e: float, b: float, r: float, q: float, phase: bool
) -> float:
    keep = 1.0 - e
    table = {
        C: (keep * (1 - b), keep * b, e, 0.0),
        B: (keep * r, keep * (1 - r), e, 0.0),
        OFF: (0.0, 0.0, 1 - s, s) if phase else (s, 0.0, 1 - s, 0.0),
        W: (q, 0.0, 0.0, 1 - q),
    }
    return table[prev][nxt]


def _paths(
    cells: np.ndarray, tabs: np.ndarray, c: float, r: float, q: float, phase: bool, p0: float
) -> Iterator[tuple[tuple[int, ...], float]]:
    """Every state path of a tiny interval (minute 0 coding with ``p0``, else off; the last
    minute holds the commit) with its joint probability."""
    n = cells.shape[0]
    for z in itertools.product((C, B, OFF, W), repeat=n):
        if z[-1] not in CODING:
            continue
        for z0, pz0 in ((C, p0), (OFF, 1 - p0)):
            p, prev = pz0, z0
            for j in range(n):
                s, e, b = tabs[cells[j]]
                p *= _step(prev, z[j], s, e, b, r, q, phase)
                if z[j] in CODING:
                    p *= c if j == n - 1 else 1 - c
                prev = z[j]
            yield z, p


@PHASES
@pytest.mark.parametrize("p0", [1.0, 0.0, 0.4])
def test_interval_kernels_equal_exact_enumeration(p0: float, phase: bool) -> None:
    rng = np.random.default_rng(0)
    tabs = rng.uniform(0.05, 0.6, (3, 3))
    cells = np.array([0, 1, 2, 1, 0, 2], dtype=np.int32)
    c, r, q = 0.2, 0.4, 0.3
    total = last = norm = 0.0
    for z, p in _paths(cells, tabs, c, r, q, phase, p0):
        since_off = z[max((j + 1 for j, v in enumerate(z) if v == OFF), default=0) :]
        run = sum(v in CODING for v in since_off)  # the closing session's coding
        total, last, norm = total + p * sum(v in CODING for v in z), last + p * run, norm + p
    s, e, b = (np.ascontiguousarray(tabs[:, j]) for j in range(3))
    out = np.zeros(20_000)
    expected = interval_ffbs4(cells, s, e, b, c, r, q, phase, p0, out.shape[0], np.uint64(7), out)
    assert expected == pytest.approx(total / norm)
    assert out.mean() == pytest.approx(total / norm, abs=5 * out.std() / np.sqrt(out.size))
    assert set(np.unique(out)) <= set(range(1, cells.shape[0] + 1))
    offsets = np.array([0, cells.shape[0]], dtype=np.int64)
    bouts = last_bouts4(cells, offsets, np.array([p0]), s, e, b, c, r, q, phase)
    assert bouts[0] == pytest.approx(last / norm)
    assert bouts[0] < expected


def _segment_by_enumeration(
    y: np.ndarray, cell: np.ndarray, se: np.ndarray, c: float, r: float, q: float, phase: bool
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """One segment (coding, in C, at its first minute; after each commit the chain goes on from
    C): likelihood, coding marginals, the per-cell counts (six columns) and ``(n_bc, n_bb,
    n_wc, n_ww)``, by every state path."""
    n = y.shape[0]
    like = 0.0
    coding = np.zeros(n)
    counts = np.zeros((se.shape[0], 6))
    moves_em = np.zeros(4)
    for z in itertools.product((C, B, OFF, W), repeat=n - 1):
        p, prev = 1.0, C
        moves = []
        for t, zt in enumerate(z, start=1):
            s_k, e_k, b_k = se[cell[t]]
            p *= _step(prev, zt, s_k, e_k, b_k, r, q, phase)
            if zt in CODING:
                p *= c if y[t] else 1 - c
            elif y[t]:
                p = 0.0
            moves.append((prev, zt, cell[t]))
            prev = C if y[t] else zt  # a commit ends the opening phase
        if p == 0.0:
            continue
        like += p
        coding[1:] += p * np.isin(np.array(z), CODING)
        for a, b, k in moves:
            if a in (C, B) and b in (C, B):
                counts[k, 0] += p  # stays in the session
            if a in (C, B) and b == OFF:
                counts[k, 1] += p
            if a == OFF:
                counts[k, 2 if b != OFF else 3] += p  # a session starts (in W or C)
            if a == C and b in (C, B):
                counts[k, 4 if b == C else 5] += p
            if a == B and b != OFF:
                moves_em[0 if b == C else 1] += p
            if a == W:
                moves_em[2 if b == C else 3] += p
    coding[0] = like  # the segment's first minute is pinned to coding
    return like, coding / like, counts / like, moves_em / like


@PHASES
def test_fit_pass_equals_enumeration_over_segments(phase: bool) -> None:
    """Likelihood, coding marginals, every per-cell count and the EM statistics of
    ``fit_pass4`` over two segments (each rescaled at its end) against every state path
    (without the phase, the opening phase's statistics are zero)."""
    rng = np.random.default_rng(1)
    se = rng.uniform(0.05, 0.5, (3, 3))
    segments = [np.array([1, 0, 0, 1, 0, 1], np.uint8), np.array([1, 0, 0, 1, 0, 0], np.uint8)]
    cells = [np.array([0, 1, 2, 0, 1, 2], np.int32), np.array([2, 1, 0, 0, 2, 1], np.int32)]
    c, r, q = 0.3, 0.35, 0.25
    y, cell = np.concatenate(segments), np.concatenate(cells)
    start = np.zeros(y.shape[0], dtype=np.bool_)
    start[[0, segments[0].shape[0]]] = True
    n = y.shape[0]
    gamma = np.zeros(n)
    counts = np.zeros((3, 6))
    bufs = (np.empty((n, 4)), np.empty(n, dtype=np.int64), np.empty(n))
    out = fit_pass4(y, cell, start, se, c, r, q, phase, counts, *bufs, gamma, True)
    parts = [
        _segment_by_enumeration(a, k, se, c, r, q, phase)
        for a, k in zip(segments, cells, strict=True)
    ]
    assert out[0] == pytest.approx(sum(np.log(p[0]) for p in parts))
    np.testing.assert_allclose(gamma, np.concatenate([p[1] for p in parts]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(counts, sum(p[2] for p in parts), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out[3:], sum(p[3] for p in parts), rtol=1e-9, atol=1e-15)
    assert phase or out[5:] == (0.0, 0.0)
    not_start = ~start
    assert out[2] == pytest.approx(gamma[not_start].sum())
    assert out[1] == pytest.approx(gamma[not_start & (y == 1)].sum())


@PHASES
def test_empty_day_probability_equals_enumeration(phase: bool) -> None:
    """``day_empty_logprob4``: log P(no commit all day | the day starts off), per day."""
    rng = np.random.default_rng(2)
    tabs = rng.uniform(0.05, 0.5, (3, 3))
    cell = np.array([0, 1, 2, 2, 1, 0, 1], dtype=np.int32)
    day = np.array([0, 0, 0, 0, 1, 1, 1], dtype=np.int64)
    c, r, q = 0.25, 0.3, 0.4
    s, e, b = (np.ascontiguousarray(tabs[:, j]) for j in range(3))
    got = day_empty_logprob4(cell, day, 2, s, e, b, c, r, q, phase)
    for d in (0, 1):
        cl = cell[day == d]
        total = 0.0
        for z in itertools.product((C, B, OFF, W), repeat=cl.shape[0]):
            p, prev = 1.0, OFF
            for j, zj in enumerate(z):
                step = _step(prev, zj, *tabs[cl[j]], r, q, phase)
                p *= step * ((1 - c) if zj in CODING else 1.0)
                prev = zj
            total += p
        assert got[d] == pytest.approx(np.log(total))


def _evening_sessions(seed: int) -> np.ndarray:
    """An occasional evening coder: on a few days a session of two to three hours with a commit
    every 15-40 minutes of it, nothing on the other days (commit times, seconds)."""
    rng = np.random.default_rng(seed)
    times: list[float] = []
    for day in range(200):
        if rng.random() > 0.3:
            continue
        t = day * 86_400 + 19 * 3600 + rng.uniform(0, 3600)
        end = t + rng.uniform(2.0, 3.0) * 3600
        t += rng.uniform(15, 40) * 60
        while t < end:
            times.append(t)
            t += rng.uniform(15, 40) * 60
    return np.asarray(times)


def test_a_fit_with_an_opening_phase_learns_its_rate_and_labels_as_its_posterior_says() -> None:
    """On sessions of steady length: ``q`` is learned, the likelihood rises after the
    warm-up, labels fit inside their intervals, the FFBS samples agree with the
    expected minutes, and the posterior pass gives the fit's likelihood."""
    t = _evening_sessions(0)
    tz = np.zeros(t.shape[0], dtype=np.int64)
    kw = dict(epochs=120, warmup_epochs=30, hidden=6, time_bins=1, random_state=0)
    three = NeuralHMM(start_phase=False, **kw).fit(t, tz)  # type: ignore[arg-type]
    four = NeuralHMM(**kw).fit(t, tz)  # type: ignore[arg-type]
    assert three.q_ is None
    assert four.q_ is not None and 1e-3 <= four.q_ <= 1.0 and four.q_ != 0.05  # learned by EM
    assert four.loglik_history_[-1] > four.loglik_history_[30]  # EM steps after the warm-up
    normal = four.interval_kind_ == 0
    assert np.all(four.expected_minutes_[normal] <= four.interval_minutes_[normal] + 1e-9)
    samples = four.sample_intervals(40)
    assert samples.shape == (t.shape[0], 40)
    se = samples.std(axis=1).sum() / np.sqrt(40)  # a loose bound on the total's error
    assert abs(samples.mean(axis=1).sum() - four.expected_minutes_.sum()) < 5 * se
    post = four.posterior(t, tz)
    assert post["loglik"] == pytest.approx(four.loglik_history_[-1], rel=0.05)


def test_the_opening_phase_needs_the_break_state_and_a_rate() -> None:
    """Without the break state the chain is the paper's two states (no ``q``); a starting
    rate outside (0, 1] is one clear error."""
    t = _evening_sessions(1)
    tz = np.zeros(t.shape[0], dtype=np.int64)
    two = NeuralHMM(break_state=False, epochs=2, hidden=4, time_bins=1).fit(t, tz)
    assert two.q_ is None and two.b_table_ is None
    with pytest.raises(ValueError, match="start_phase needs 0 < init_phase_rate <= 1"):
        NeuralHMM(init_phase_rate=0.0, epochs=2).fit(t, tz)
    # without the break state the phase is not used, so its starting rate is not checked
    NeuralHMM(break_state=False, init_phase_rate=0.0, epochs=2, hidden=4, time_bins=1).fit(t, tz)


def test_the_config_key_reaches_the_model() -> None:
    """``[training.hmm] start_phase`` in a config reaches the model; the default has the
    phase."""
    from standard_coder.config.training import TrainingSection
    from standard_coder.pipelines.sch_train_options import work_options
    from standard_coder.sch.work_inference import make_model

    for value in (True, False):
        section = TrainingSection.model_validate({"hmm": {"start_phase": value}})
        model = make_model("hmm", work_options(section), random_state=0, span_days=30.0)
        assert isinstance(model, NeuralHMM) and model.start_phase is value
    assert TrainingSection().hmm.start_phase is True
