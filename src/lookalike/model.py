"""The network: an any-order autoregressive model over a table's token columns.

Every sub-column i has its own small network that predicts a categorical distribution
over its tokens from the embeddings of the sub-columns that come *before* it in the
row's order. Which ones come before is given per row (column ranks in training, a mask of
known sub-columns at generation), so one model serves the canonical order (unconditional
generation) and any "these columns are known" order (seeded generation, imputation,
rebalancing).

Two first layers (``first_layer``):
- "dense": target t has its own weights over every visible sub-column's embedding; a
  training step costs O(B·S²·d·H), quadratic in the number of columns.
- "prefix": every source sub-column j has one projection u_j = emb_j @ A_j + a_j shared by
  all targets; target t's first layer is gelu(c_t + the sum of u_j over what it sees).
  In training each row's order is a total order, so that sum is a prefix sum in the row's
  order: O(B·S·(d + K)·H + B·C·log C) (K: a column's most detail sub-tokens, 2 today), linear
  in the number of columns; ``loss`` takes the rows' column ranks, never a [B, S, S] mask.

A column's detail sub-tokens (a number's rounding step and position inside its bin) are
context for that column alone; the ones in ``own_details`` (numeric columns with the full
100 bins) also see nothing but their own column's earlier sub-tokens. A detail sub-token
that means nothing for its row (the bin position of a null or a point mass) is left out of
the loss (``set_detail_rows``).

Shapes: B rows, S sub-columns, C table columns, d embedding size, H hidden units, V the
largest cardinality (every head's logits are padded to V; padding is masked out).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

EMB_DROPOUT = 0.2
ORDINAL_ROWS = 200  # a token seen in this many rows starts halfway between its place on a line and a random start (init_ordinal)
SIZES = {"small": (8, 64), "medium": (12, 128), "large": (16, 256)}  # (emb_dim, hidden)
FIRST_LAYERS = ("dense", "prefix")
DEFAULT_FIRST_LAYER = "auto"  # what ``lookalike.train`` builds ("auto": first_layer_for); files record their own
DENSE_MAX_SUB = 64  # up to this many sub-columns the dense first layer (per-target weights) is affordable


def first_layer_for(n_sub: int, choice: str = "auto") -> str:
    """The first layer for a table of ``n_sub`` sub-columns: dense (a weight per target
    and source: most accurate on the flat suite, cost quadratic in the columns) up to
    DENSE_MAX_SUB, prefix (cost linear in the columns: 10x cheaper at 100 columns) beyond."""
    if choice != "auto":
        return choice
    return "dense" if n_sub <= DENSE_MAX_SUB else "prefix"


class TabularModel(nn.Module):
    def __init__(self, cardinalities: list[int], column_of_sub: list[int], size: str = "medium",
                 first_layer: str = "dense", own_details: list[int] | None = None):
        super().__init__()
        if first_layer not in FIRST_LAYERS:
            raise ValueError(f"first_layer must be one of {FIRST_LAYERS}, got {first_layer!r}")
        self.cardinalities = list(cardinalities)
        self.column_of_sub = list(column_of_sub)
        self.first_layer = first_layer
        S = len(cardinalities)
        V = max(cardinalities, default=1)
        d, H = SIZES[size]
        self.emb_dim, self.hidden = d, H
        offsets = torch.tensor([0] + list(cardinalities[:-1]), dtype=torch.long).cumsum(0) if S else torch.zeros(0)
        self.register_buffer("offsets", offsets.long(), persistent=False)
        self.embedding = nn.Embedding(max(sum(cardinalities), 1), d)  # all sub-columns' tokens in one table
        fan_in = (S * d + S) ** 0.5  # of the dense layer; the prefix sums start at the same scale
        if first_layer == "dense":
            # per-target layers; the first sees [masked context embeddings | context mask]
            self.w1 = nn.Parameter(torch.randn(S, S * d + S, H) / fan_in)
        else:
            # per-source projections u_j = emb_j @ w_src[j] + b_src[j], summed over what a target sees
            self.w_src = nn.Parameter(torch.randn(S, d, H) / fan_in)
            self.b_src = nn.Parameter(torch.randn(S, 1, H) / fan_in)
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
        # ... and some detail sub-tokens see nothing but their own column (own_details)
        self.own_details = sorted(own_details or [])
        if any(first[i] for i in self.own_details):
            raise ValueError("own_details: a column's first sub-token always sees the row")
        for i in self.own_details:
            visible[i] = col == col[i]
        self.register_buffer("visible", visible.float(), persistent=False)
        # [S, V] by the column's first token: whether a detail sub-token means something (set_detail_rows)
        self.register_buffer("detail_rows", None, persistent=False)
        self.register_buffer("detail_owner", None, persistent=False)  # [S]: each sub-token's column's first
        if first_layer == "prefix":  # index tables of ordered_context (columns' sub-tokens are contiguous)
            firsts = [i for i in range(S) if first[i]]
            slot = (torch.tensor(first, dtype=torch.long).cumsum(0) - 1).tolist()  # sub-column -> its entry in firsts
            own = [list(range(firsts[slot[i]], i)) for i in range(S)]  # the column's earlier sub-tokens
            K = max(map(len, own), default=0)
            self.register_buffer("first_sub", torch.tensor(firsts, dtype=torch.long), persistent=False)
            self.register_buffer("first_col", torch.tensor([column_of_sub[i] for i in firsts], dtype=torch.long),
                                 persistent=False)
            self.register_buffer("slot", torch.tensor(slot, dtype=torch.long), persistent=False)
            # padded with S: a zero row appended to the projections
            self.register_buffer("own_before", torch.tensor([o + [S] * (K - len(o)) for o in own],
                                                            dtype=torch.long).view(S, K), persistent=False)

    def set_detail_rows(self, applies: list) -> None:
        """Leave out of the loss the detail tokens that mean nothing for their row: per
        sub-column, the first tokens of its column its detail applies to (bool array; None:
        all; ``TableEncoder.detail_applies``). A point mass's or a null's position inside a
        bin is always 0: trained as a target, it teaches the position head to write 0 for
        the neighbouring bins too (a small table's ordered tokens start alike)."""
        S, V = self.n_sub, self.w_out.shape[-1]
        rows = torch.ones(S, V, device=self.w_out.device)
        owner = []
        for i in range(S):
            owner.append(i if self.is_first[i] else owner[-1])
            if applies[i] is not None:
                a = torch.as_tensor(applies[i], device=rows.device).float()
                rows[i, : len(a)] = a
        self.detail_rows = rows
        self.detail_owner = torch.tensor(owner, dtype=torch.long, device=rows.device)

    @torch.no_grad()
    def init_ordinal(self, positions: list, counts: list | None = None) -> None:
        """Start the embeddings of ordered tokens (a number's bins and point masses, its
        position inside a bin; ``TableEncoder.token_positions``: 0..1, NaN for none) near a
        line between two random points of the sub-column, at their position. A token seen in
        c training rows (``counts`` per sub-column; None: few) starts at the weight
        ORDINAL_ROWS / (c + ORDINAL_ROWS) on the line and the rest at its random start: a rare
        value begins like its neighbours and the heads read a number's size from the first
        step, a frequent one keeps a start of its own that its rows will shape. Without it,
        small tables overfit before learning even r = 0.998 relations between their numbers
        (breast cancer, 284 rows: synthetic radius ~ perimeter r = 0.04, discriminator AUC 0.96)."""
        w = self.embedding.weight
        for i, pos in enumerate(positions):
            if pos is None:
                continue
            pos = torch.as_tensor(pos, dtype=w.dtype, device=w.device)
            tokens = torch.nonzero(~torch.isnan(pos)).flatten()
            if len(tokens) < 2:
                continue
            a, b = torch.randn(2, self.emb_dim, dtype=w.dtype, device=w.device)
            p = pos[tokens, None]
            c = torch.zeros(len(tokens), 1, dtype=w.dtype, device=w.device)
            if counts is not None and counts[i] is not None:
                c = torch.as_tensor(counts[i], dtype=w.dtype, device=w.device)[tokens].clamp_min(0)[:, None]
            share = ORDINAL_ROWS / (c + ORDINAL_ROWS)
            rows = self.offsets[i] + tokens
            w[rows] = (share * ((1 - p) * a + p * b) + (1 - share) * w[rows]) / (share**2 + (1 - share) ** 2).sqrt()

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
        if self.first_layer == "dense":
            h = self._dense_first(emb, mask, targets, inputs)
        else:
            h = F.gelu(self.masked_context(emb, mask, targets, inputs) + self.b1[targets])
        return self._rest(h, targets, width)

    def _dense_first(self, emb: torch.Tensor, mask: torch.Tensor, targets: list[int] | slice,
                     inputs: torch.Tensor | None) -> torch.Tensor:
        """The dense first layer: [T, B, H]. O(B·T·S·d·H)."""
        B, S, d = emb.shape
        T = mask.shape[1]
        visible, w1 = self.visible[targets], self.w1[targets]
        if inputs is not None:
            rows = torch.cat([(inputs[:, None] * d + torch.arange(d, device=inputs.device)).flatten(), S * d + inputs])
            emb, mask, visible, w1 = emb[:, inputs], mask[:, :, inputs], visible[:, inputs], w1[:, rows]
            S = len(inputs)
        mask = mask * visible
        x = (mask.unsqueeze(-1) * emb.unsqueeze(1)).reshape(B, T, S * d).transpose(0, 1)  # [T, B, S*d]
        # [masked embeddings | mask] @ w1, as two products (no concatenated copy)
        h = torch.baddbmm(self.b1[targets], x, w1[:, : S * d])
        return F.gelu(torch.baddbmm(h, mask.transpose(0, 1), w1[:, S * d :]))

    def _rest(self, h: torch.Tensor, targets: list[int] | slice, width: int | None) -> torch.Tensor:
        """Layer 2 and the output heads: h [T, B, H] -> logits [T, B, width or V]."""
        h = F.gelu(torch.baddbmm(self.b2[targets], h, self.w2[targets]))
        V = width or self.w_out.shape[-1]
        return torch.baddbmm(self.b_out[targets, :, :V], h, self.w_out[targets, :, :V]) + self.pad[targets, :, :V]

    def _projections(self, emb: torch.Tensor, sources: torch.Tensor | slice = slice(None)) -> torch.Tensor:
        """The prefix layer's per-source projections u: emb [B, S, d] -> [S, B, H]."""
        return torch.baddbmm(self.b_src[sources], emb[:, sources].transpose(0, 1), self.w_src[sources])

    def masked_context(self, emb: torch.Tensor, mask: torch.Tensor, targets: list[int] | slice = slice(None),
                       inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The prefix layer's context sums for any mask [B, T, S]: Σ_j mask·visible·u_j, [T, B, H].
        O(B·S·d·H + B·T·S·H): for generation (T = 1) and checks, not for training."""
        visible = self.visible[targets]
        if inputs is None:
            inputs = slice(None)
        else:
            mask, visible = mask[:, :, inputs], visible[:, inputs]
        u = self._projections(emb, inputs)  # [S, B, H]
        return torch.bmm(mask * visible, u.transpose(0, 1)).transpose(0, 1)

    def ordered_context(self, emb: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
        """The prefix layer's context sums of every sub-column when each row's columns come in
        the order ``ranks`` [B, C] (as in ``order_masks``), without any [B, S, S] mask: [S, B, H].

        What target t sees is (1) the first sub-tokens of the columns before its own in the
        row's order — an exclusive prefix sum in that order, O(B·C·(log C + H)) — and (2) its
        own column's earlier sub-tokens, the same in every order (at most a few: a gather).
        With the projections, O(B·S·(d + K)·H) in all: linear in the number of columns."""
        S = self.n_sub
        u = self._projections(emb)  # [S, B, H]
        B, H = u.shape[1], u.shape[2]
        # the same keys as order_masks, for the columns' first sub-tokens only
        key = ranks[:, self.first_col].to(torch.float64) * (S + 1) + self.first_sub  # [B, C]
        at = key.argsort(dim=1).T.unsqueeze(-1).expand(-1, -1, H)  # [C, B, H]: the column at each position
        in_order = u[self.first_sub].gather(0, at)
        before = torch.cat([u.new_zeros(1, B, H), in_order[:-1]]).cumsum(0)  # sum of the positions before each
        prefix = torch.zeros_like(before).scatter(0, at, before)  # [C, B, H], back to column order
        context = prefix[self.slot]  # [S, B, H]
        if self.own_details:
            context[self.own_details] = 0.0
        if self.own_before.shape[1]:
            context = context + torch.cat([u, u.new_zeros(1, B, H)])[self.own_before].sum(1)
        return context

    def head_parameters(self) -> list[nn.Parameter]:
        """The parameters that belong to one sub-column's head each: their first dimension is
        the sub-column (the others, embeddings and the prefix layer's projections, are shared)."""
        names = ("w1", "b1", "w2", "b2", "w_out", "b_out") if self.first_layer == "dense" else ("b1", "w2", "b2", "w_out", "b_out")
        return [getattr(self, n) for n in names]

    def loss(self, tokens: torch.Tensor, ranks: torch.Tensor, weights: torch.Tensor | None = None,
             per_row: bool = False) -> torch.Tensor:
        """Sum over sub-columns of the mean cross-entropy (nats per row) when each row's columns
        come in the order ``ranks`` [B, C] (see ``order_masks``); weights [S] (0 for context
        columns that are given, never generated, and for heads that no longer train).
        ``per_row``: each sub-column's weighted cross-entropy in each row [S, B] instead (its
        mean over the rows, summed, is the loss)."""
        if weights is None:
            weights = torch.ones(self.n_sub, device=tokens.device)
        # context sub-columns (weight 0) are always given: their heads need no computing
        targets = torch.nonzero(weights > 0).flatten().tolist()
        emb = self.embed(tokens)
        if self.first_layer == "dense":
            mask = order_masks(self.column_of_sub, ranks)  # [B, S, S]
        else:
            context = self.ordered_context(emb, ranks)  # [S, B, H]
        total = emb.new_zeros((self.n_sub, len(tokens)) if per_row else ())
        for group in self._groups(targets):
            idx = torch.as_tensor(group, device=tokens.device)
            width = max(self.cardinalities[t] for t in group)  # narrow heads are not padded to the widest
            if self.first_layer == "dense":
                # the inputs some target of the group can see; the others are left out of the products
                seen = torch.nonzero(self.visible[idx].bool().any(0)).flatten()
                inputs = seen if len(seen) < self.n_sub else None
                logits = self.logits_from(emb, mask[:, idx], group, inputs, width)  # [T, B, width]
            else:
                logits = self._rest(F.gelu(context[idx] + self.b1[idx]), group, width)
            T, B, V = logits.shape
            ce = F.cross_entropy(logits.reshape(T * B, V), tokens.T[idx].reshape(T * B), reduction="none").view(T, B)
            if self.detail_rows is not None:  # details that mean nothing for their row
                ce = ce * self.detail_rows[idx].gather(1, tokens.T[self.detail_owner[idx]].long())
            if per_row:
                total = total.index_add(0, idx, ce * weights[idx, None])
            else:
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
        # only the sub-columns this target may see and some row knows enter the products
        # (in generation order: the ones before it), so each step costs what it uses
        seen = torch.nonzero(mask_row.bool().any(0) & self.visible[target].bool()).flatten()
        inputs = seen if len(seen) < self.n_sub else None
        out = self.logits_from(emb, mask_row.unsqueeze(1), [target], inputs, width=self.cardinalities[target])[0]
        return out[:, : self.cardinalities[target]]


class RunningContext:
    """What is known of a batch being generated, kept in the form the first layer reads, so
    that each generation step costs one product over the known inputs and nothing else.

    dense: the known embeddings side by side [B, S·d] (zeros where unknown) with the
    columns' first sub-tokens first and the detail sub-tokens after them, and the known mask
    [B, S] in the same order. A target sees the first sub-tokens (one product, up to the
    last one known) and its own column's detail sub-tokens (a second, small one).
    prefix: the running sum of the known first sub-tokens' projections [B, H], shared by
    every target, plus the target's own column's detail sub-tokens.
    Either way the logits equal ``logits_for`` with the same known set; ``allowed`` (bool
    per sub-column, or None) forbids tokens through the heads' biases."""

    def __init__(self, model: TabularModel, batch: int, allowed: list[torch.Tensor] | None = None):
        self.model = model
        S, d, H = model.n_sub, model.emb_dim, model.hidden
        self.allowed = allowed
        self.bias: dict[int, torch.Tensor] = {}  # per target, built when it is first drawn
        if model.first_layer == "dense":
            order = [j for j in range(S) if model.is_first[j]] + [j for j in range(S) if not model.is_first[j]]
            self.pos = [0] * S  # sub-column -> its place in the buffers
            for p, j in enumerate(order):
                self.pos[j] = p
            self.n_first = sum(model.is_first)
            self.first_extent = 0  # first sub-tokens [0, first_extent) hold every known one
            # a column's detail sub-tokens: a contiguous range of the detail block
            self.details: dict[int, tuple[int, int]] = {}
            for j in order[self.n_first :]:
                lo, hi = self.details.get(model.column_of_sub[j], (self.pos[j], self.pos[j]))
                self.details[model.column_of_sub[j]] = (lo, self.pos[j] + 1)
            self.details_known: set[int] = set()
            # the first layer's weights in buffer order: kept while the weights do not change
            # (a long series draws thousands of small batches from one model)
            key = (model.w1.data_ptr(), model.w1._version, model.visible._version)
            cached = getattr(model, "_buffer_weights", None)
            if cached is None or cached[0] != key or torch.is_grad_enabled():
                idx = torch.as_tensor(order, device=model.w1.device)
                vis = model.visible[:, idx]  # [S(target), S(source, buffer order)]
                w = model.w1[:, : S * d].view(S, S, d, H)[:, idx] * vis[:, :, None, None]
                cached = (key, w.reshape(S, S * d, H), model.w1[:, S * d :][:, idx] * vis[:, :, None])
                if not torch.is_grad_enabled():
                    model._buffer_weights = cached
            self.w_emb, self.w_mask = cached[1], cached[2]
            self.emb = model.w1.new_zeros((batch, S * d))
            self.known = model.w1.new_zeros((batch, S))
        else:
            self.sum = model.b1.new_zeros((batch, H))
            self.detail: dict[int, torch.Tensor] = {}  # column -> its known detail sub-tokens' projections
            self.first: dict[int, torch.Tensor] = {}  # column -> its first sub-token's projection (own_details)

    def add(self, j: int, emb_j: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        """Sub-column j (embeddings [B, d]) is now known in ``rows`` (bool [B], default all)."""
        m = self.model
        if m.first_layer == "dense":
            p, d = self.pos[j], m.emb_dim
            part = self.emb[:, p * d : (p + 1) * d]
            if rows is None:
                part.copy_(emb_j)
                self.known[:, p] = 1.0
            else:
                part.copy_(torch.where(rows[:, None], emb_j, part))
                self.known[:, p] = torch.where(rows, 1.0, self.known[:, p])
            if m.is_first[j]:
                self.first_extent = max(self.first_extent, p + 1)
            else:
                self.details_known.add(m.column_of_sub[j])
            return
        u = torch.addmm(m.b_src[j], emb_j, m.w_src[j])
        if rows is not None:
            u = u * rows[:, None].to(u.dtype)
        if m.is_first[j]:
            self.sum += u
            if m.own_details:  # what an own-details target of this column sees besides its details
                col = m.column_of_sub[j]
                self.first[col] = self.first[col] + u if col in self.first else u
        else:
            col = m.column_of_sub[j]
            self.detail[col] = self.detail[col] + u if col in self.detail else u

    def logits(self, target: int) -> torch.Tensor:
        """Logits of one target from what is known now: [B, card] (forbidden tokens -inf)."""
        m = self.model
        col = m.column_of_sub[target]
        if m.first_layer == "dense":
            e, d, w, wm = self.first_extent, m.emb_dim, self.w_emb[target], self.w_mask[target]
            h = torch.addmm(m.b1[target], self.emb[:, : e * d], w[: e * d])
            h.addmm_(self.known[:, :e], wm[:e])
            if col in self.details_known:  # the own column's detail sub-tokens
                lo, hi = self.details[col]
                h.addmm_(self.emb[:, lo * d : hi * d], w[lo * d : hi * d]).addmm_(self.known[:, lo:hi], wm[lo:hi])
        else:
            h = m.b1[target] + (self.first.get(col, 0.0) if target in m.own_details else self.sum)
            if col in self.detail:
                h = h + self.detail[col]
        h = F.gelu(torch.addmm(m.b2[target], F.gelu(h), m.w2[target]))
        if target not in self.bias:
            b = m.b_out[target, 0, : m.cardinalities[target]]
            self.bias[target] = b if self.allowed is None else b.masked_fill(~self.allowed[target], float("-inf"))
        return torch.addmm(self.bias[target], h, m.w_out[target, :, : m.cardinalities[target]])


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
