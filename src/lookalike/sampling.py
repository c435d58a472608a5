"""Generation: draw token rows from the model, in batches, with temperature and top-p.

Columns the caller already knows (seed values, the observed part of a row to impute)
are passed as ``fixed``: they are visible to every other column, which is then drawn
from its conditional distribution in the canonical order.
"""

from __future__ import annotations

import numpy as np
import torch

from .model import RunningContext, TabularModel


def _top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches top_p."""
    sorted_p, idx = probs.sort(dim=-1, descending=True)
    keep_sorted = sorted_p.cumsum(-1) - sorted_p < top_p
    keep = torch.zeros_like(keep_sorted).scatter(-1, idx, keep_sorted)
    return probs * keep


def _draw(probs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One category per row from unnormalised probabilities [B, K] (inverse CDF; faster
    than torch.multinomial on CPU)."""
    cdf = probs.cumsum(-1)
    u = torch.rand((len(probs), 1), generator=gen, device=probs.device, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probs.shape[1] - 1).squeeze(1)


@torch.no_grad()
def sample_tokens(
    model: TabularModel,
    n: int,
    allowed: list[np.ndarray],
    gen: torch.Generator,
    fixed: np.ndarray | None = None,
    fixed_mask: np.ndarray | None = None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    expected: list[torch.Tensor] | None = None,
) -> np.ndarray:
    """Token rows [n, S]. ``fixed``/``fixed_mask`` [n, S]: known tokens and where they are.
    ``expected``: per sub-column, a tensor the probabilities of the drawn rows are added to
    (their sum: the expected token counts, far less noisy than counting the draws)."""
    device = next(model.parameters()).device
    S = model.n_sub
    tokens = torch.zeros((n, S), dtype=torch.long, device=device)
    known = torch.zeros((n, S), dtype=torch.bool, device=device)
    if fixed is not None:
        tokens = torch.as_tensor(fixed, dtype=torch.long, device=device).clone()
        known = torch.as_tensor(fixed_mask, dtype=torch.bool, device=device).clone()
    if S == 0 or n == 0:
        return tokens.cpu().numpy()
    emb = model.embed(tokens)
    context = RunningContext(model, n, [torch.as_tensor(a, device=device) for a in allowed])
    for j in range(S):  # what the given values say to every column
        if bool(known[:, j].any()):
            context.add(j, emb[:, j], None if bool(known[:, j].all()) else known[:, j])
    for i in range(S):
        todo = ~known[:, i]
        if not bool(todo.any()):
            continue
        logits = context.logits(i).float()
        if temperature != 1.0:
            logits = logits / max(temperature, 1e-6)
        probs = torch.softmax(logits, dim=-1)
        if top_p < 1.0:
            probs = _top_p_filter(probs, top_p)
        if expected is not None:
            counted = todo.to(probs.dtype)
            if model.detail_rows is not None:  # only the rows the detail means something for
                counted = counted * model.detail_rows[i][tokens[:, model.detail_owner[i]]].to(probs.dtype)
            expected[i] += (probs * counted[:, None]).sum(0).to(expected[i].device, expected[i].dtype)
        draw = _draw(probs, gen)
        tokens[:, i] = torch.where(todo, draw, tokens[:, i])
        known[:, i] = True
        # the drawn value now informs the columns after it
        context.add(i, model.embedding(tokens[:, i] + model.offsets[i]), None if bool(todo.all()) else todo)
    return tokens.cpu().numpy()


@torch.no_grad()
def marginal(model: TabularModel, sub: int, allowed: np.ndarray) -> np.ndarray:
    """The model's marginal distribution of one sub-column (nothing else known)."""
    device = next(model.parameters()).device
    emb = model.embed(torch.zeros((1, model.n_sub), dtype=torch.long, device=device))
    logits = model.logits_for(emb, torch.zeros((1, model.n_sub), device=device), sub)[0].float()
    logits = logits.masked_fill(torch.as_tensor(~allowed, device=device), float("-inf"))
    return torch.softmax(logits, -1).cpu().numpy().astype("float64")


@torch.no_grad()
def fair_resample(
    model: TabularModel,
    tokens: np.ndarray,
    target: int,
    groups: np.ndarray,
    allowed: np.ndarray,
    gen: torch.Generator,
    iterations: int = 50,
) -> np.ndarray:
    """Redraw sub-column ``target`` given every other column, reweighted per group so the
    target's distribution is the same in every group (statistical parity) while each row
    keeps its own conditional odds. ``groups`` [n] are integer group ids."""
    device = next(model.parameters()).device
    t = torch.as_tensor(tokens, device=device)
    known = torch.ones_like(t, dtype=torch.float32)
    known[:, target] = 0.0
    logits = model.logits_for(model.embed(t), known, target).double()
    logits = logits.masked_fill(torch.as_tensor(~allowed, device=device), float("-inf"))
    p = torch.softmax(logits, -1)  # [n, K]
    overall = p.mean(0)
    g = torch.as_tensor(groups, device=device)
    out = p.clone()
    for gid in torch.unique(g):
        rows = g == gid
        pg, w = p[rows], torch.ones_like(overall)
        for _ in range(iterations):  # iterative proportional fitting of the group's mean to `overall`
            q = pg * w
            q = q / q.sum(-1, keepdim=True).clamp_min(1e-12)
            w = w * overall / q.mean(0).clamp_min(1e-12)
        out[rows] = q
    result = tokens.copy()
    result[:, target] = torch.multinomial(out.float(), 1, generator=gen).squeeze(1).cpu().numpy()
    return result
