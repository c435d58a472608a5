"""Differential privacy for one table: DP statistics for the encoders, DP-SGD, accounting.

``lookalike.train(df, differential_privacy=True)`` (or ``{"epsilon": 1.0, "delta": 1e-5}``)
makes the model file (ε, δ)-differentially private with respect to the training rows: one
row is one person. Everything the file holds that comes from the rows goes through one of
two Gaussian mechanisms, and the accountant composes them:

1. **Statistics** (``NoisyCounts``, used by the encoders' ``fit_dp``): every statistic is a
   sensitivity-1 histogram (a row adds 1 to exactly one bucket): the row count; each
   categorical column's counts of null and of every category; per numeric/datetime column
   a histogram over a *data-independent* grid (signed 1-2-5 steps of every decade; five-year
   spans for dates) that finds the range and the null share, a histogram over cells inside
   the found range (one cell per value where a range bucket holds at most 100 values: point
   masses are single values with large noisy counts; the rest is spread by the noisy counts
   and cut at its noisy quantiles into bins, so no edge is a data value), and for
   non-integer dtypes a histogram of each value's resolution (decimals; dates vs times).
   All histograms get Gaussian noise in one release of L2 sensitivity √(Σ weights) (each
   query has a weight: its noise is σ/√weight), so the release is one Gaussian mechanism.
   Categories come from an unbounded domain: a category is kept only when its noisy count
   passes ``1 + σ·Φ⁻¹(1 - δ_col)``, so one held by a single row appears with probability at
   most δ_col (Gaussian partition selection); half of δ pays for that, shared by the
   categorical columns. Thresholds and everything computed from the noisy counts after
   that are post-processing.
2. **Training** (``fit_dp``): DP-SGD with Poisson sampling (each step takes every row with
   probability q, computed from the *noisy* row count), every row's gradient clipped to
   norm C, Gaussian noise of std z·C on the sum, divided by the expected batch size, then
   Adam (post-processing). The heads start at the noisy marginals with zero output weights
   (the untrained model is the product of the DP marginals). No validation split, early
   stopping or annealing on data: the number of steps comes from ``epochs`` and q, and the
   learning rate falls on a fixed schedule. Afterwards the heads' biases are raked until the
   model's own samples have the noisy marginals again (``calibration.rake``: post-processing).

Per-row gradients: Opacus's ``GradSampleModule`` cannot take this model (its parameters
are used directly in ``baddbmm`` and the functorch fallback refuses modules with buffers),
and ``torch.func`` (vmap over grad) is exact but materialises a gradient per row (~30x a
normal step here). So for the dense first layer the per-row gradient *norms* are computed
exactly from activations and output gradients ("ghost norms": every weight slice is used
once per row, so a row's gradient of ``x @ W`` has norm |x|·|g|; a row's tokens are
distinct rows of the embedding table), and the clipped sum is a second backward pass of
the per-row losses weighted by their clipping factors (noise and scaling as Opacus's
``DPOptimizer`` does, drawn from the seeded generator). The prefix first layer (more than
64 sub-columns) falls back to ``torch.func``; a test checks the two agree.

Accounting: Opacus's ``PRVAccountant`` (its RDP accountant where PRV fails) composes the
statistics (one Gaussian mechanism, q = 1, one step) with the training steps (subsampled
Gaussian) — tighter than basic composition, which would add ε_statistics + ε_training.
``preprocessing_share`` of ε calibrates the statistics' noise alone; the training noise is
then calibrated (bisection) so that the composition spends ε at δ/2 (δ/2 goes to the
partition selection). The ε recorded is the accountant's for the steps actually taken.

Taken as public, as in every DP synthesizer: the column names, dtypes and kinds (inferred
from the data unless ``types`` fixes them), the holdout split (the holdout is never used
by the model) and the user's options. Key columns get data-independent new keys. The QA
sidecar files beside a model hold real rows, as without DP.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..config import DifferentialPrivacy
from ..errors import ConfigError

log = logging.getLogger(__name__)

SELECTION_DELTA_SHARE = 0.5  # share of δ for categories (partition selection); the rest: accountant
PRESENCE_Z = 4.0  # a bucket of a data-independent grid "holds values" above this many σ
MASS_Z = 3.0  # cell counts below this many σ are taken as empty (denoising, post-processing)
ROWS_WEIGHT = 1.0  # the row count: categories' rare shares are estimated from it
DP_LEARNING_RATE = 1e-2  # when the user did not set one: noisy steps are few and large
DP_MAX_BATCH = 8192
DP_MIN_BATCH = 64
DECAY_START = 0.7  # the learning rate falls linearly to a tenth over the last 30% of steps


# --- the statistics' mechanism ------------------------------------------------------------
class NoisyCounts:
    """Sensitivity-1 histograms with Gaussian noise: std ``sigma / sqrt(weight)`` per query.

    The queries' weights sum to at most ``budget`` (planned from the schema before any
    data is read), so all of them together are one Gaussian mechanism of noise multiplier
    ``sigma / sqrt(budget)``. The encoders' ``fit_dp`` call ``counts`` and the thresholds."""

    def __init__(self, sigma: float, rng: np.random.Generator, budget: float, selection_delta: float):
        self.sigma = float(sigma)
        self.rng = rng
        self.budget = float(budget)
        self.selection_delta = float(selection_delta)  # per categorical column
        self.used = 0.0
        self.rows = 0.0  # the noisy number of rows, set by ``plan_dp``

    def counts(self, true: np.ndarray, weight: float = 1.0) -> np.ndarray:
        """One histogram query: ``true`` counts + N(0, (σ/√weight)²) each."""
        self.used += weight
        if self.used > self.budget + 1e-9:
            raise RuntimeError(f"DP statistics used weight {self.used} beyond the planned {self.budget}")
        true = np.asarray(true, dtype=np.float64)
        return true + self.rng.normal(0.0, self.std(weight), size=true.shape)

    def std(self, weight: float = 1.0) -> float:
        return self.sigma / math.sqrt(weight)

    def presence(self, weight: float = 1.0) -> float:
        """Threshold above which a bucket of a data-independent grid holds values."""
        return PRESENCE_Z * self.std(weight)

    def mass(self, weight: float = 1.0) -> float:
        """Threshold below which a cell's noisy count is taken as 0."""
        return MASS_Z * self.std(weight)

    def selection(self, weight: float = 1.0) -> float:
        """Threshold for a value from an unbounded domain (a category): a value held by
        one row passes it with probability ``selection_delta``."""
        from scipy.stats import norm

        return 1.0 + self.std(weight) * float(norm.isf(self.selection_delta))


# --- accounting ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def epsilon_spent(z_pre: float | None, z: float | None, q: float, steps: int, delta: float) -> float:
    """ε at ``delta`` of the statistics (Gaussian, noise multiplier ``z_pre``) composed with
    ``steps`` DP-SGD steps (noise multiplier ``z``, Poisson rate ``q``): Opacus's PRV
    accountant, or its RDP accountant where PRV cannot (very small ε)."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    history = []
    if z_pre:
        history.append((float(z_pre), 1.0, 1))
    if z and steps:
        history.append((float(z), float(q), int(steps)))
    if not history:
        return 0.0
    with warnings.catch_warnings():  # opacus warns about its alpha grid; we pass a wide one to RDP
        warnings.simplefilter("ignore")
        try:
            prv = PRVAccountant()
            prv.history = list(history)
            eps = float(prv.get_epsilon(delta))
            if math.isfinite(eps) and eps > 0:
                return eps
        except Exception as exc:  # noqa: BLE001 - PRV's domain limits; RDP is always defined
            log.debug("PRV accountant failed (%s); using RDP", exc)
        rdp = RDPAccountant()
        rdp.history = list(history)
        alphas = [1 + x / 100 for x in range(1, 100)] + [2 + x / 10 for x in range(100)] + list(range(12, 512))
        return float(rdp.get_epsilon(delta, alphas=alphas))


def _calibrate(eps_of: Callable[[float], float], target: float) -> float:
    """Smallest noise multiplier z (to ~1%) with ``eps_of(z) <= target``; ε falls as z grows."""
    lo, hi = 0.05, 1.0
    while eps_of(hi) > target:
        lo, hi = hi, hi * 4
        if hi > 1e6:
            raise ConfigError(f"differential_privacy: ε = {target:g} cannot be reached; choose a larger epsilon")
    while hi / lo > 1.01:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if eps_of(mid) > target else (lo, mid)
    return hi


@dataclass
class DPPlan:
    """The budget's split, decided before training; ``summary`` is what the model file keeps."""

    options: DifferentialPrivacy
    delta_selection: float  # total δ of the categories' partition selection
    delta_accountant: float
    z_pre: float  # the statistics' noise multiplier (L2 sensitivity 1)
    counts: NoisyCounts
    selection_columns: int
    z: float | None = None
    q: float = 0.0
    steps: int = 0
    batch: float = 0.0
    spent: dict[str, Any] = field(default_factory=dict)

    def finish(self, steps_done: int) -> None:
        """Record what was spent: the accountant's ε for the steps actually taken."""
        eps = epsilon_spent(self.z_pre, self.z, self.q, steps_done, self.delta_accountant)
        self.spent = {"epsilon_spent": round(eps, 4), "delta_spent": self.options.delta, "steps_done": steps_done,
                      "epsilon_statistics": round(epsilon_spent(self.z_pre, None, 0.0, 0, self.delta_accountant), 4)}

    def epsilon(self, steps: int | None = None) -> float:
        return epsilon_spent(self.z_pre, self.z, self.q, self.steps if steps is None else steps, self.delta_accountant)

    def summary(self) -> dict[str, Any]:
        return {
            "epsilon": round(self.options.epsilon, 6),
            "delta": self.options.delta,
            **self.spent,
            "accountant": "prv (opacus), statistics and DP-SGD composed",
            "noise_multiplier": round(self.z or 0.0, 4),
            "statistics_noise_multiplier": round(self.z_pre, 4),
            "sampling_rate": round(self.q, 5),
            "steps": self.steps,
            "max_grad_norm": self.options.max_grad_norm,
            "expected_batch_size": round(self.batch, 1),
        }


def check_available() -> None:
    """Opacus does the accounting: say how to get it when it is missing."""
    try:
        import opacus  # noqa: F401
    except ImportError:
        raise ConfigError("differential_privacy needs Opacus: pip install 'lookalike[dp]' (or pip install opacus)") from None


def plan_dp(options: DifferentialPrivacy, weights: list[float], selection_columns: int, n_rows: int,
            rng: np.random.Generator) -> DPPlan:
    """Split the budget and release the noisy row count. ``weights``: the statistics'
    query weights (from the schema, before any data is read); ``selection_columns``: how
    many of them choose categories from an unbounded domain."""
    delta = options.delta
    delta_sel = delta * SELECTION_DELTA_SHARE if selection_columns else 0.0
    delta_acc = delta - delta_sel
    budget = sum(weights) + ROWS_WEIGHT
    target = options.epsilon * options.preprocessing_share
    z_pre = _calibrate(lambda z: epsilon_spent(z, None, 0.0, 0, delta_acc), target)
    sigma = z_pre * math.sqrt(budget)
    counts = NoisyCounts(sigma, rng, budget, delta_sel / max(selection_columns, 1))
    counts.rows = max(float(counts.counts(np.array([n_rows]), ROWS_WEIGHT)[0]), 1.0)
    log.info("DP statistics: noise σ = %.1f per count (ε share %.3g)", sigma, target)
    return DPPlan(options, delta_sel, delta_acc, z_pre, counts, selection_columns)


def calibrate_training(plan: DPPlan, batch_size: int | None) -> None:
    """Expected batch, sampling rate, steps and the noise multiplier that spend the rest of ε."""
    o, n = plan.options, plan.counts.rows  # the noisy row count: q must not depend on the rows
    batch = batch_size or int(np.clip(2 ** round(math.log2(max(n / 6, 1))), DP_MIN_BATCH, DP_MAX_BATCH))
    plan.q = min(1.0, float(f"{batch / n:.2g}"))  # two digits: the accounting repeats for similar tables
    plan.batch = plan.q * n
    plan.steps = max(1, math.ceil(o.epochs / plan.q))
    plan.z = _calibrate(lambda z: epsilon_spent(plan.z_pre, z, plan.q, plan.steps, plan.delta_accountant), o.epsilon)


# --- per-row gradients ---------------------------------------------------------------------
def _dense_row_losses(model, tokens: torch.Tensor, ranks: torch.Tensor, weights: torch.Tensor):
    """Per-row losses [B] of ``TabularModel.loss`` (dense first layer, dropout off) and the
    taps for the per-row gradient norms: (inputs, output) of every per-target product."""
    from ..model import order_masks

    targets = torch.nonzero(weights > 0).flatten().tolist()
    emb = model.embedding(tokens + model.offsets)  # [B, S, d]
    mask_all = order_masks(model.column_of_sub, ranks)  # [B, S, S]
    B, S, d = emb.shape
    total = emb.new_zeros(B)
    taps: list[tuple[list[torch.Tensor], torch.Tensor]] = []
    for group in model._groups(targets):
        idx = torch.as_tensor(group, device=tokens.device)
        width = max(model.cardinalities[t] for t in group)
        seen = torch.nonzero(model.visible[idx].bool().any(0)).flatten()
        e, mask, visible, w1 = emb, mask_all[:, idx], model.visible[group], model.w1[group]
        s = S
        if len(seen) < S:
            rows = torch.cat([(seen[:, None] * d + torch.arange(d, device=seen.device)).flatten(), S * d + seen])
            e, mask, visible, w1 = e[:, seen], mask[:, :, seen], visible[:, seen], w1[:, rows]
            s = len(seen)
        T = len(group)
        mask = mask * visible
        x = (mask.unsqueeze(-1) * e.unsqueeze(1)).reshape(B, T, s * d).transpose(0, 1)  # [T, B, s*d]
        m = mask.transpose(0, 1)  # [T, B, s]
        h1 = torch.baddbmm(torch.baddbmm(model.b1[group], x, w1[:, : s * d]), m, w1[:, s * d :])
        a1 = F.gelu(h1)
        h2 = torch.baddbmm(model.b2[group], a1, model.w2[group])
        a2 = F.gelu(h2)
        logits = torch.baddbmm(model.b_out[group, :, :width], a2, model.w_out[group, :, :width])
        logits = logits + model.pad[group, :, :width]
        ce = F.cross_entropy(logits.reshape(T * B, width), tokens.T[idx].reshape(T * B), reduction="none").view(T, B)
        total = total + (ce * weights[idx][:, None]).sum(0)
        taps += [([x, m], h1), ([a1], h2), ([a2], logits)]
    return total, emb, taps


def clipped_gradient_sum(model, tokens: torch.Tensor, ranks: torch.Tensor, weights: torch.Tensor,
                         max_norm: float) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Σ over rows of each row's gradient clipped to ``max_norm``, per parameter, and the
    rows' gradient norms before clipping [B]."""
    params = [p for p in model.parameters() if p.requires_grad]
    if model.first_layer != "dense":
        return _clipped_sum_functorch(model, tokens, ranks, weights, max_norm, params)
    losses, emb, taps = _dense_row_losses(model, tokens, ranks, weights)
    outs = [out for _, out in taps]
    grads = torch.autograd.grad(losses.sum(), outs + [emb], retain_graph=True)
    sq = grads[-1].pow(2).sum((1, 2))  # the embedding: a row's tokens are distinct rows of the table
    for (inputs, _), g in zip(taps, grads[:-1]):
        g2 = g.pow(2).sum(-1)  # [T, B]: the per-target bias
        sq = sq + (g2 * (1 + sum(x.pow(2).sum(-1) for x in inputs))).sum(0)
    norms = sq.sqrt()
    factor = (max_norm / (norms + 1e-12)).clamp(max=1.0).detach()
    summed = torch.autograd.grad((losses * factor).sum(), params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, summed)], norms.detach()


def _clipped_sum_functorch(model, tokens, ranks, weights, max_norm, params, chunk: int = 256):
    """The same through ``torch.func`` (vmap over grad): exact for any first layer, slow."""
    from torch.func import functional_call, grad, vmap

    names = [n for n, p in model.named_parameters() if p.requires_grad]

    class _Loss(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, t, r):
            return self.m.loss(t, r, weights)

    wrap = _Loss(model)
    values = {f"m.{n}": p.detach() for n, p in zip(names, params)}
    per_row = vmap(grad(lambda p, t, r: functional_call(wrap, p, (t[None], r[None]))), in_dims=(None, 0, 0))
    total = [torch.zeros_like(p) for p in params]
    norms = []
    for i in range(0, len(tokens), chunk):
        g = per_row(values, tokens[i : i + chunk], ranks[i : i + chunk])
        flat = [g[f"m.{n}"] for n in names]
        norm = torch.sqrt(sum(x.reshape(len(x), -1).pow(2).sum(1) for x in flat))
        factor = (max_norm / (norm + 1e-12)).clamp(max=1.0)
        for t, x in zip(total, flat):
            t += torch.tensordot(factor, x, dims=1)
        norms.append(norm)
    return total, torch.cat(norms) if norms else tokens.new_zeros(0, dtype=torch.float32)


# --- training ------------------------------------------------------------------------------
def init_marginals_dp(model, marginals: list[np.ndarray | None]) -> None:
    """Heads start at the noisy (DP) marginals the encoders released (sub-columns without
    one start uniform), and the output weights at zero: the untrained model is exactly the
    product of the marginals, and the few noisy steps only add dependencies to it."""
    with torch.no_grad():
        model.w_out.zero_()
        model.b_out.zero_()
        for i, (c, m) in enumerate(zip(model.cardinalities, marginals)):
            if m is None or len(m) != c:
                continue
            m = np.clip(np.asarray(m, dtype=np.float64), 0, None)
            model.b_out[i, 0, :c] = torch.as_tensor(np.log((m + 0.5) / (m.sum() + 0.5 * c)), dtype=model.b_out.dtype)


def fit_dp(model, tokens: np.ndarray, config, gen: torch.Generator, plan: DPPlan,
           on_progress: Callable | None = None, context: list[int] | None = None, spent: float = 0.0):
    """DP-SGD on ``tokens`` [n, S] in place for the planned number of steps (fewer when
    ``max_training_time`` runs out: then less ε is spent). Returns a ``TrainResult``; the
    ε and δ spent go to ``plan.spent``."""
    from ..training import TrainProgress, TrainResult, canonical_ranks, pick_device, random_ranks

    end = time.monotonic() + max((config.max_training_time or math.inf) - spent, 0.0)
    device = pick_device(config.device)
    model.to(device)
    model.eval()  # no dropout: the forward is a function of the row (and the seeded orders) only
    n = len(tokens)
    n_cols = max([*model.column_of_sub, *(context or [])], default=0) + 1
    trn = torch.as_tensor(tokens, device=device)
    is_context = torch.zeros(n_cols, dtype=torch.bool)
    is_context[list(context or [])] = True
    ctx = is_context if context else None
    weights = (~is_context[torch.as_tensor(model.column_of_sub, dtype=torch.long)]).float().to(device)
    o = plan.options
    lr = config.learning_rate if "learning_rate" in config.model_fields_set else DP_LEARNING_RATE
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)  # beat SGD with momentum on adult (0.932 vs 0.926 at ε = 1)
    steps = min(plan.steps, max(1, math.ceil(config.max_epochs / plan.q)))
    per_epoch = max(1, round(1 / plan.q))
    start, done, stopped_by = time.monotonic(), 0, "privacy_budget"
    bar = tqdm(total=steps, desc="training (DP-SGD)", unit="step", disable=not config.progress, leave=False)
    step_seconds = 0.0
    for step in range(steps):
        began = time.monotonic()
        if began + 2 * step_seconds > end:
            stopped_by = "max_training_time"
            break
        decay = max(0.0, (step / steps - DECAY_START) / (1 - DECAY_START))
        for g in opt.param_groups:
            g["lr"] = lr * (1 - 0.9 * decay)
        take = torch.rand(n, generator=gen) < plan.q  # Poisson sampling, as the accountant assumes
        batch = trn[take.nonzero().flatten().to(device)].long()
        ranks = (random_ranks(len(batch), n_cols, gen, torch.device("cpu"), ctx) if o.any_order
                 else canonical_ranks(len(batch), n_cols, torch.device("cpu"), ctx)).to(device)
        if len(batch):
            summed, _ = clipped_gradient_sum(model, batch, ranks, weights, o.max_grad_norm)
        else:
            summed = [torch.zeros_like(p) for p in params]
        for p, g in zip(params, summed):
            noise = torch.randn(p.shape, generator=gen).to(device) * (plan.z * o.max_grad_norm)
            p.grad = (g + noise) / plan.batch
        opt.step()
        opt.zero_grad(set_to_none=True)
        done = step + 1
        step_seconds = time.monotonic() - began
        bar.update(1)
        if on_progress and (done % per_epoch == 0 or done == steps):
            elapsed = time.monotonic() - start
            # no losses: measuring them on the rows would be outside the accounting
            on_progress(TrainProgress(math.ceil(done / per_epoch), math.ceil(steps / per_epoch), None, None, None,
                                      elapsed, elapsed / done * (steps - done), opt.param_groups[0]["lr"]))
    bar.close()
    plan.finish(done)
    log.info("DP-SGD: %d steps (q=%.4f, z=%.3f), ε spent %.3f at δ %.2g", done, plan.q, plan.z,
             plan.spent["epsilon_spent"], plan.options.delta)
    # no validation loss: nothing is measured on data outside the accounting
    result = TrainResult(math.ceil(done / per_epoch), math.ceil(done / per_epoch), 0.0,
                         time.monotonic() - start, stopped_by, device.type)
    return result
