"""The network: an any-order autoregressive model over a table's token columns.

Every sub-column i has its own small network that predicts a categorical distribution
over its tokens from the embeddings of the sub-columns that come *before* it in the
row's order. Which ones come before is given per row by a mask, so one model serves the
canonical order (unconditional generation) and any "these columns are known" order
(seeded generation, imputation, rebalancing).

Shapes: B rows, S sub-columns, d embedding size, H hidden units, V the largest
cardinality (every head's logits are padded to V; padding is masked out).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

EMB_DROPOUT = 0.2
SIZES = {"small": (8, 64), "medium": (12, 128), "large": (16, 256)}  # (emb_dim, hidden)


class TabularModel(nn.Module):
    def __init__(self, cardinalities: list[int], column_of_sub: list[int], size: str = "medium"):
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.column_of_sub = list(column_of_sub)
        S = len(cardinalities)
        V = max(cardinalities, default=1)
        d, H = SIZES[size]
        self.emb_dim, self.hidden = d, H
        offsets = torch.tensor([0] + list(cardinalities[:-1]), dtype=torch.long).cumsum(0) if S else torch.zeros(0)
        self.register_buffer("offsets", offsets.long(), persistent=False)
        self.embedding = nn.Embedding(max(sum(cardinalities), 1), d)  # all sub-columns' tokens in one table
        # per-target layers; the first sees [masked context embeddings | context mask]
        self.w1 = nn.Parameter(torch.randn(S, S * d + S, H) / (S * d + S) ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(S, 1, H))
        self.w2 = nn.Parameter(torch.randn(S, H, H) / H**0.5)
        self.b2 = nn.Parameter(torch.zeros(S, 1, H))
        self.w_out = nn.Parameter(torch.randn(S, H, V) / H**0.5)
        self.b_out = nn.Parameter(torch.zeros(S, 1, V))
        pad = torch.zeros(S, 1, V)
        for i, c in enumerate(cardinalities):
            pad[i, 0, c:] = float("-inf")
        self.register_buffer("pad", pad, persistent=False)
        # a column's detail sub-tokens (e.g. the position inside a numeric bin) are context
        # only for that column itself: for the others they are noise to overfit on
        first = [i == 0 or column_of_sub[i - 1] != c for i, c in enumerate(column_of_sub)]
        self.is_first = first
        col = torch.tensor(column_of_sub)
        visible = (col[:, None] == col[None, :]) | torch.tensor(first)[None, :] if S else torch.zeros(0, 0)
        self.register_buffer("visible", visible.float(), persistent=False)

    @torch.no_grad()
    def init_marginals(self, tokens: torch.Tensor) -> None:
        """Start every head at its column's marginal: output biases = log token frequencies
        (smoothed). Training then learns dependencies instead of first finding the
        frequencies, which matters most for small tables that get few optimiser steps."""
        for i, c in enumerate(self.cardinalities):
            counts = torch.bincount(tokens[:, i].long().cpu(), minlength=c)[:c].float()
            self.b_out[i, 0, :c] = torch.log((counts + 0.5) / (counts.sum() + 0.5 * c)).to(self.b_out.device)

    @property
    def n_sub(self) -> int:
        return len(self.cardinalities)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, S] -> embeddings [B, S, d]; dropout here regularises cheaply."""
        return F.dropout(self.embedding(tokens + self.offsets), EMB_DROPOUT, self.training)

    def logits_from(self, emb: torch.Tensor, mask: torch.Tensor, targets: list[int] | slice = slice(None),
                    inputs: torch.Tensor | None = None, width: int | None = None) -> torch.Tensor:
        """Logits of the targets given their visible context.

        emb [B, S, d]; mask [B, T, S] (1 = sub-column visible to target t). Returns [T, B, V]
        (V = ``width``: the widest target's cardinality, when given).
        ``inputs``: the only sub-columns any target can see (the others are left out of the
        products instead of being multiplied by zero; the result is the same).
        """
        B, S, d = emb.shape
        T = mask.shape[1]
        visible, w1 = self.visible[targets], self.w1[targets]
        if inputs is not None:
            rows = torch.cat([(inputs[:, None] * d + torch.arange(d, device=inputs.device)).flatten(), S * d + inputs])
            emb, mask, visible, w1 = emb[:, inputs], mask[:, :, inputs], visible[:, inputs], w1[:, rows]
            S = len(inputs)
        mask = mask * visible
        x = mask.unsqueeze(-1) * emb.unsqueeze(1)  # [B, T, S, d]
        x = torch.cat([x.reshape(B, T, S * d), mask], dim=-1).transpose(0, 1)  # [T, B, S*d+S]
        h = F.gelu(torch.baddbmm(self.b1[targets], x, w1))
        h = F.gelu(torch.baddbmm(self.b2[targets], h, self.w2[targets]))
        V = width or self.w_out.shape[-1]
        return torch.baddbmm(self.b_out[targets, :, :V], h, self.w_out[targets, :, :V]) + self.pad[targets, :, :V]

    def loss(self, tokens: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Sum over sub-columns of the mean cross-entropy (nats per row). mask [B, S, S];
        weights [S] (0 for context columns that are given, never generated)."""
        if weights is None:
            weights = torch.ones(self.n_sub, device=tokens.device)
        # context sub-columns (weight 0) are always given: their heads need no computing
        targets = torch.nonzero(weights > 0).flatten().tolist()
        emb = self.embed(tokens)
        total = emb.new_zeros(())
        for group in self._groups(targets):
            idx = torch.as_tensor(group, device=tokens.device)
            # the inputs some target of the group can see; the others are left out of the products
            seen = torch.nonzero(self.visible[idx].bool().any(0)).flatten()
            inputs = seen if len(seen) < self.n_sub else None
            width = max(self.cardinalities[t] for t in group)  # narrow heads are not padded to the widest
            logits = self.logits_from(emb, mask[:, idx], group, inputs, width)  # [T, B, width]
            T, B, V = logits.shape
            ce = F.cross_entropy(logits.reshape(T * B, V), tokens.T[idx].reshape(T * B), reduction="none").view(T, B)
            total = total + (ce.mean(1) * weights[idx]).sum()
        return total

    def _groups(self, targets: list[int]) -> list[list[int]]:
        """Targets split into columns' first sub-tokens (they see only other columns' first
        sub-tokens, and have the wide heads) and detail sub-tokens (narrow heads)."""
        first = [t for t in targets if self.is_first[t]]
        detail = [t for t in targets if not self.is_first[t]]
        return [g for g in (first, detail) if g]

    def logits_for(self, emb: torch.Tensor, mask_row: torch.Tensor, target: int) -> torch.Tensor:
        """Logits of one target: emb [B, S, d], mask_row [B, S] -> [B, card]."""
        out = self.logits_from(emb, mask_row.unsqueeze(1), [target], width=self.cardinalities[target])[0]
        return out[:, : self.cardinalities[target]]


def order_masks(column_of_sub: list[int], ranks: torch.Tensor) -> torch.Tensor:
    """Visibility masks from per-row column ranks.

    ranks [B, C]: position of each table column in the row's order. Sub-columns of one
    column come in their own order after the column's rank. Returns [B, S, S] float,
    mask[b, i, j] = 1 when sub-column j comes before sub-column i in row b.
    """
    col = torch.as_tensor(column_of_sub, device=ranks.device)
    S = len(column_of_sub)
    sub_pos = torch.arange(S, device=ranks.device)
    key = ranks[:, col].to(torch.float64) * (S + 1) + sub_pos  # [B, S] strict total order
    return (key.unsqueeze(1) < key.unsqueeze(2)).to(torch.float32)
