"""Config section ``[training]``: work inference, change features and effort models."""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, field_validator, model_validator

from standard_coder.config.base import ConfigPath, PositiveInt, StrictModel, UnitFloat


class HMMSection(StrictModel):
    """The paper's neural HMM (per author, 1-minute resolution); see docs/work-inference.md."""

    epochs: int = Field(400, ge=1, description="maximum-likelihood epochs per author")
    learning_rate: float = Field(0.02, gt=0, description="Adam learning rate for the S/E network")
    hidden: int = Field(16, ge=1, description="hidden units of the S/E network (two tanh layers)")
    history_days: int = Field(730, ge=1, description="only the most recent N days of each author")
    split_inactive_days: int = Field(
        30, ge=1, description="a gap longer than this splits the history into separate segments"
    )
    squash_minutes: int = Field(
        2, ge=0, description="same-author commits closer than this are squashed"
    )
    time_bin_days: float = Field(
        56.0, gt=0, description="one slice of normalised overall time per this many days of history"
    )
    max_time_bins: int = Field(16, ge=1, description="upper bound on overall-time slices")
    inner_steps: int = Field(1, ge=1, description="Adam steps per forward-backward pass")
    init_commit_prob: float = Field(
        0.04,
        gt=0,
        lt=1,
        description="initial per-minute commit probability c while coding (the likelihood is "
        "nearly flat in c, so the start sets the scale)",
    )
    warmup_epochs: int = Field(
        50, ge=0, description="epochs with c held at its initial value (at most half the epochs)"
    )
    tol: float = Field(
        0.0,
        ge=0,
        description="in the last quarter of the epochs, stop when the log-likelihood rose by "
        "less than tol x |log-likelihood| over 20 epochs (0: every epoch runs; off by default, "
        "see docs/work-inference.md)",
    )
    pooled_max_minutes: int = Field(
        3_000_000,
        ge=1,
        description="authors below min_commits_per_author are pooled in items of at most this "
        "many active minutes (bounds each fit to about 40 s at 400 epochs)",
    )
    fallback_window_minutes: int = Field(
        1440, ge=1, description="window before a first commit or one after a long gap"
    )
    break_state: bool = Field(
        True,
        description="a third hidden state, a break inside a session: sessions start and end "
        "with the clock, breaks come and go inside them at learned rates "
        "(docs/work-inference.md, 'Breaks inside a session')",
    )
    break_by_clock: bool = Field(
        False,
        description="with break_state: the break probability follows the clock (a network "
        "output per minute of the week) instead of rates learned by EM (break_by_hour); off "
        "by default, measured to fit noise on small histories (docs/work-inference.md, 'One "
        "break rate for the whole week')",
    )
    break_by_hour: bool = Field(
        True,
        description="with break_state and without break_by_clock: one break probability per "
        "hour of the local day, each learned by EM and shrunk toward the whole week's rate "
        "(bouts may be longer in the morning than in the afternoon); false: one rate for the "
        "whole week (docs/work-inference.md, 'A break rate per hour of the day')",
    )
    break_hour_prior_minutes: float = Field(
        2000.0,
        ge=0,
        description="with break_by_hour: how strongly each hour's break rate is shrunk toward "
        "the week's, in coding minutes (an hour with much less coding than this keeps about "
        "the week's rate; 0: no shrinkage)",
    )
    max_break_prob: float = Field(
        0.1,
        gt=0,
        le=1,
        description="with break_state: the most a coding minute's break probability can be (a "
        "coding bout of at least 1 / max_break_prob minutes on average)",
    )
    start_phase: bool = Field(
        True,
        description="with break_state: each session opens with a phase of coding that can "
        "neither end nor break, left at a rate learned by EM or at the session's first commit, "
        "so session lengths are not memoryless (docs/work-inference.md, 'A session's opening "
        "phase'); false: the three-state chain of session 46",
    )


class GapSection(StrictModel):
    """The git-hours heuristic baseline."""

    max_gap_minutes: int = Field(120, ge=1, description="a gap under this counts in full")
    session_start_minutes: int = Field(120, ge=0, description="credit for a session's first commit")


class FeaturesSection(StrictModel):
    """How a change becomes a feature vector."""

    representation: Literal["tokens", "hybrid", "loc"] = Field(
        "hybrid", description="tokens = token bag + surface counts; hybrid adds Python AST edits"
    )
    top_n_identifiers: int = Field(
        16, ge=0, description="most frequent identifiers kept as tokens, per language"
    )
    skip_generated: bool = Field(
        True,
        description="leave out of a change's features the files whose first lines say they were "
        "generated ('auto-generated', 'generated by', 'do not edit', '@generated'): a regenerated "
        "table is not work (docs/effort-models.md, Generated files)",
    )
    skip_formatting: bool = Field(
        True,
        description="leave out of a change's features the files whose change is formatting only "
        "(Python: the same syntax tree and comments; C-like languages: only whitespace changed): "
        "a reformat is not work (docs/effort-models.md, Formatting-only files)",
    )
    commit_subject: bool = Field(
        True,
        description="count what each commit's subject line says (its length and the kinds of work "
        "it names: fix, test, docs, release, a pull request number...) as feature columns "
        "subject|...; a change without one (a working tree, a patch) gets the fitted changes' "
        "mean (tokens and hybrid; docs/effort-models.md, Commit subjects)",
    )
    commit_files: bool = Field(
        False,
        description="count every file each commit touches, of any language, as feature columns "
        "files|...: lines added and deleted in files the token counts do not see (documentation, "
        "configuration, CI), files touched and their folders; a commit whose files are unknown "
        "gets the fitted changes' mean (tokens and hybrid; docs/effort-models.md, Files of every "
        "language)",
    )
    commit_body: bool = Field(
        False,
        description="count what each commit's message says after its subject line as feature "
        "columns body|...: its lines (trailers such as Signed-off-by left out), their words and "
        "its Co-authored-by trailers; a change whose message is unknown (a working tree, a raw "
        "diff) gets the fitted changes' mean; the shipped cross-repository prior is then the one "
        "that reads them, a quarter of its recipe fitted with them and three quarters without "
        "(tokens and hybrid; docs/effort-models.md, Message bodies)",
    )
    cross_repo_prior: bool = Field(
        True,
        description="add the score of a model learnt on many public Python histories as a feature "
        "column, prior|cross_repo, which the shift model then takes as its backbone (tokens and "
        "hybrid; false: the unmoved + source size backbone, as before; docs/effort-models.md, "
        "A cross-repository prior)",
    )
    cross_repo_prior_path: ConfigPath | None = Field(
        None,
        description="with cross_repo_prior = true: a prior of your own, written by "
        "`standard-coder fit-prior OUTPUT... --out FILE` from your pipelines' outputs (default: "
        "the one shipped with the package)",
    )

    @model_validator(mode="after")
    def _path_needs_prior(self) -> FeaturesSection:
        if self.cross_repo_prior_path is not None and not self.cross_repo_prior:
            raise ValueError(
                "cross_repo_prior_path is set but cross_repo_prior = false: "
                "set cross_repo_prior = true to use it"
            )
        return self


class MDNSection(StrictModel):
    """Mixture density network."""

    components: int = Field(20, ge=1, description="mixture components (paper: 20)")
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 64, 64, 64, 64],
        min_length=1,
        description="hidden layers (paper)",
    )
    family: Literal["gaussian", "lognormal"] = Field(
        "lognormal", description="component family for positive hours (see docs/effort-models.md)"
    )
    dropout: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="dropout after each hidden layer while training (keeps the network from "
        "memorising each commit on histories of a few hundred changes; 0 = off)",
    )


class ShiftSection(StrictModel):
    """Location-shift model (``predictor = "shift"``; docs/effort-models.md)."""

    components: PositiveInt = Field(4, description="most mixture components of the shared shape")
    backbone: str = Field(
        "prior|cross_repo",
        description="feature column of the backbone (default: the cross-repository prior's "
        "score; where the representation has none, lines added less moved and blank lines, "
        "and surface|lines_added where it lacks that; surface|lines_added: raw lines added)",
    )
    shrink: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 1.0],
        min_length=1,
        description="refinement weights tried on the time-based validation split (0: none)",
    )
    tiebreak: bool = Field(
        False,
        description="the refinement only breaks ties of the backbone (shrink is then not used)",
    )
    tie_windows: list[float] = Field(
        default_factory=lambda: [0.0],
        min_length=1,
        description="tiebreak: near-tie windows tried on the validation split, in standard "
        "deviations of log1p(lines added) (0: exact ties only)",
    )
    backbone_mix: dict[str, NonNegativeFloat] = Field(
        default_factory=lambda: {"surface|lines_added_source": 1.0},
        description="fixed weights (>= 0) of other feature columns added to the backbone's 1: a "
        "combined size signal, monotone in every count (default: lines added outside test "
        "files, left out where the representation lacks it and with the prior's backbone, "
        "whose score holds every size; {}: the backbone alone; "
        "docs/effort-models.md, Combined backbone)",
    )
    spreads: list[float] = Field(
        default_factory=lambda: [-0.2, -0.1, 0.1, 0.2],
        description="spread slopes tried on the validation split: the shape narrows (< 0) or "
        "widens (> 0) by exp(slope) per standard deviation of the predicted log size; kept only "
        "when it beats no spread by half a standard error ([]: one shape for every change; "
        "docs/effort-models.md, Spread with size)",
    )


AutoCandidate = Literal["mdn", "shift_w0", "shift", "shift_tie"]
AUTO_DEFAULT: tuple[AutoCandidate, ...] = ("mdn", "shift_w0")


class AutoSection(StrictModel):
    """Per-repository choice of the effort model (``predictor = "auto"``; docs/effort-models.md)."""

    candidates: list[AutoCandidate] = Field(
        default_factory=lambda: list(AUTO_DEFAULT),
        min_length=1,
        description="models tried: mdn ([training.mdn]), shift_w0 (SCH ranks as its backbone: "
        "the cross-repository prior's score by default, else the size backbone), shift "
        "([training.shift]), shift_tie (refinement only breaks ties of the backbone)",
    )
    rule: Literal["nll", "spearman", "both", "spearman_se"] = Field(
        "spearman_se",
        description="choice on the time-based validation split: lowest NLL, highest Spearman of "
        "SCH, highest Spearman within 0.05 NLL of the best, or (spearman_se) highest Spearman "
        "unless it beats shift_w0 by no more than margin_se standard errors or has a higher "
        "validation NLL than shift_w0 (then shift_w0)",
    )
    margin_se: float = Field(
        2.0,
        ge=0.0,
        description="spearman_se: standard errors of a Spearman correlation on the validation "
        "changes by which another model must rank them better than shift_w0 to be chosen (1 "
        "before session 28; docs/effort-models.md, Session 28)",
    )


class QuantileSection(StrictModel):
    """Quantile regression head (pinball loss)."""

    quantiles: list[UnitFloat] = Field(
        default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
        min_length=1,
        description="quantiles predicted (each strictly between 0 and 1)",
    )
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [128, 64], min_length=1, description="hidden layers"
    )

    @field_validator("quantiles")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError("quantiles must be strictly increasing")
        return value


class MultitaskSection(StrictModel):
    """Coding and delivery effort from one network (docs/delivery-effort.md)."""

    enable: bool = Field(
        False, description='the seed\'s spelling: true is the same as predictor = "multitask"'
    )
    pull_requests_path: ConfigPath | None = Field(
        None, description="PR file (docs/delivery-effort.md): open->merge times, reviews, commits"
    )
    components: int = Field(20, ge=1, description="SCH mixture components (as [training.mdn])")
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 64, 64, 64, 64],
        min_length=1,
        description="the shared trunk's hidden layers",
    )
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout after each trunk layer")
    delivery_components: int = Field(5, ge=1, description="delivery mixture components")
    delivery_hidden: list[PositiveInt] = Field(
        default_factory=lambda: [32], min_length=1, description="delivery head's hidden layers"
    )
    delivery_bound_hours: float = Field(
        720.0, gt=0, description="open->merge hours are clipped here (the distribution's bound)"
    )
    delivery_weight: float = Field(
        1.0, gt=0, description="weight of the delivery loss next to the SCH loss"
    )
    pr_batch_size: int = Field(
        16, ge=1, description="PRs per training step (an epoch covers every PR once)"
    )


class OptimSection(StrictModel):
    """Training loop."""

    epochs: int = Field(60, ge=1, description="maximum epochs")
    batch_size: int = Field(1024, ge=1, description="rows (commit, label sample) per step")
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    checkpoint_every_steps: int = Field(200, ge=1, description="checkpoint interval in steps")
    early_stopping_patience: int = Field(8, ge=1, description="epochs without validation gain")
    max_steps_per_epoch: int | None = Field(
        500,
        ge=1,
        description="cap on steps per epoch (an epoch is otherwise commits x samples / batch); "
        "bounds the time between validations on large histories",
    )
    grad_clip: float = Field(5.0, ge=0, description="gradient-norm clip (0: off)")
    samples_per_commit: int = Field(
        8,
        ge=1,
        description="label samples per drawn commit in a batch (batch_size // k commits per "
        "step; the network runs once per commit)",
    )
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="share of train commits")


class TrainingSection(StrictModel):
    """Work inference and effort model."""

    work_inference: Literal["hmm", "gap"] = Field("hmm", description="labels from hmm or gap")
    predictor: Literal["mdn", "quantile", "multitask", "shift", "auto"] = Field(
        "auto",
        description="effort model; multitask adds delivery effort per PR ([training.multitask]); "
        "shift: one shape shifted by a lines-added backbone ([training.shift]); auto: chosen "
        "per repository on the most recent training changes ([training.auto])",
    )
    label_weighting: Literal["off", "kind", "session", "session_half"] = Field(
        "off",
        description="per-change training weights of the effort model: off (the networks weigh "
        "every change 1, the shift fits normal-interval labels 1, others 0); kind (everywhere "
        "normal-interval labels 1, others 0); session (that times the label's share in the "
        "session the change closes); session_half (1 where that share >= 0.5); "
        'docs/effort-models.md, "Label weights"',
    )
    recency_half_life: float = Field(
        0.25,
        ge=0,
        le=100,
        description="the effort model's fits weigh each change by 0.5 ** (age / (h * n)), age "
        "in changes by commit time, n the fitted changes; h is this share (0: every change "
        'weighs the same); docs/effort-models.md, "Recency"',
    )
    pool_size_mdn: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="predictor shift or auto: the effort distribution is this share of an MDN "
        "fitted on the size counts alone, pooled with the model's (SCH stays the model's; 0: "
        'no pool); docs/effort-models.md, "A pooled distribution"',
    )
    label_samples_per_commit: int = Field(200, ge=1, description="coding-time samples per commit")
    min_commits_per_author: int = Field(
        100,
        ge=1,
        description="authors below this share one pooled work-inference model (an own model "
        "needs ~100 commits: docs/work-inference.md)",
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="most recent share of each repo held out"
    )
    distributed: Literal["none", "ddp"] = Field(
        "none",
        description='"ddp": train with torch.distributed DDP; launch with torchrun '
        "(docs/scale-out.md); without torchrun the run stops with exit 2",
    )
    truth_path: ConfigPath | None = Field(
        None, description="simulator truth.json (or a folder of them) for accuracy reports"
    )
    hmm: HMMSection = Field(default_factory=HMMSection)
    gap: GapSection = Field(default_factory=GapSection)
    features: FeaturesSection = Field(default_factory=FeaturesSection)
    mdn: MDNSection = Field(default_factory=MDNSection)
    quantile: QuantileSection = Field(default_factory=QuantileSection)
    shift: ShiftSection = Field(default_factory=ShiftSection)
    auto: AutoSection = Field(default_factory=AutoSection)
    multitask: MultitaskSection = Field(default_factory=MultitaskSection)
    optim: OptimSection = Field(default_factory=OptimSection)

    @model_validator(mode="before")
    @classmethod
    def _seed_spelling(cls, data: Any) -> Any:
        """The seed's ``predictor_kind`` and ``[training.multitask] enable = true`` are accepted
        for ``predictor`` (a conflicting pair is an error)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.pop("predictor_kind", None)
        mt = data.get("multitask")
        if kind is None and isinstance(mt, dict) and mt.get("enable") is True:
            kind = "multitask"
        if kind is not None:
            if data.get("predictor", kind) != kind:
                raise ValueError(
                    f"predictor = {data['predictor']!r} conflicts with predictor_kind / "
                    f"[training.multitask] enable ({kind!r}); keep one"
                )
            data["predictor"] = kind
        return data

    @model_validator(mode="after")
    def _multitask_needs_prs(self) -> TrainingSection:
        if self.predictor == "multitask" and self.multitask.pull_requests_path is None:
            raise ValueError(
                'predictor = "multitask" needs [training.multitask] pull_requests_path '
                "(a PR file, docs/delivery-effort.md)"
            )
        if self.predictor == "multitask" and self.label_weighting != "off":
            raise ValueError(
                f'label_weighting = "{self.label_weighting}" is not implemented for '
                'predictor = "multitask" (use "off")'
            )
        return self
