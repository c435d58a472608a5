"""The text network: a GRU that writes a row's texts, token by token (words or characters,
as each column's tokenizer says), given the row's flat tokens.

A row's text columns form one sequence, ``BOS t1 END t2 END ...``, so each text is written
knowing the ones before it. The row's flat tokens (every sub-column of the flat model,
including each text column's null/length bucket) are embedded, concatenated and projected
to a context vector ``c`` [B, H] (with where each numeric value lies in its column's range:
``row_positions``); ``c`` sets the GRU's initial state and is added to every
step's input, with an embedding of which text column is being written and one of how many
characters the text may still take (its length bucket's longest minus what is written,
capped at MAX_ROOM: ``room``), so texts end where their length bucket says. The output layer
goes through R < H units first (``head_rank``; 0: straight from H), so a vocabulary of
thousands of words costs R, not H, multiply-adds per token and word; ``c`` is added to those
R units too (``context_head``), so the row picks its words directly, not only through the
GRU's state.

The output layer is an adaptive softmax when the vocabulary is large (``cutoffs``): the
tokens are numbered by frequency (``TextVocab``), the first SHORTLIST and one entry per rarer
cluster share one softmax, and a rarer token's probability is its cluster's times its share
within the cluster, from R / 2, R / 4 ... units. Training computes a cluster only for the
steps whose next token is in it: most tokens are frequent ones, so a step costs a fraction of
the full vocabulary's softmax (which took three quarters of a step with 4,500 tokens).
Models of files from before the length-aware input (``room`` False) have neither.

Shapes: B rows, T steps, S flat sub-columns, V tokens + specials, E embedding size,
H hidden units, L GRU layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PAD, BOS, END = 0, 1, 2  # END closes each text column's segment
SPECIALS = 3
# (E, H, L, R) per model_size; R: the output layer's rank (H -> R -> V), cheap with word vocabularies
TEXT_SIZES = {"small": (64, 192, 1, 64), "medium": (64, 256, 1, 96), "large": (96, 384, 2, 128)}
CONTEXT_DIM = 8  # embedding size of each flat token in the context
MAX_ROOM = 64  # characters left to write, as the model sees it (more reads as MAX_ROOM)
DROPOUT = 0.1  # of the GRU's outputs, while training
SHORTLIST = 512  # tokens (by frequency) in the adaptive softmax's first softmax
CLUSTER_GROWTH = 4  # each rarer cluster holds this many times the tokens of the one before


def cutoffs(vocab_size: int) -> list[int]:
    """Where the adaptive softmax's clusters start and end: [SHORTLIST, ..., vocab_size]
    (just [vocab_size]: one plain softmax, for vocabularies that are not much larger)."""
    out, start = [], SHORTLIST
    while start < vocab_size - SHORTLIST // 2:
        out.append(start)
        start *= CLUSTER_GROWTH
    return [*out, vocab_size]


@dataclass
class TextVocab:
    """The text model's tokens (characters and words): the union of its columns' tokenizer
    vocabularies, most used first (each column's vocabulary lists its tokens most used first;
    a token's place is its best rank in any column), so the adaptive softmax's shortlist
    holds the frequent ones. Vocabularies in alphabetical order (files from before) give the
    alphabetical union, as they did."""

    pieces: list[str]

    @classmethod
    def of(cls, vocabs: list[list[str]]) -> TextVocab:
        if all(v == sorted(v) for v in vocabs):
            return cls(sorted(set().union(*map(set, vocabs))))
        rank: dict[str, int] = {}
        for v in vocabs:
            for i, t in enumerate(v):
                rank[t] = min(rank.get(t, i), i)
        return cls(sorted(rank, key=lambda t: (rank[t], t)))

    @property
    def size(self) -> int:
        return SPECIALS + len(self.pieces)

    def ids(self, tokens: list[str]) -> list[int]:
        lookup = self._lookup()
        return [lookup[t] for t in tokens if t in lookup]

    def _lookup(self) -> dict[str, int]:
        if getattr(self, "_ids", None) is None:
            self._ids = {t: SPECIALS + i for i, t in enumerate(self.pieces)}
        return self._ids

    def lengths(self) -> torch.Tensor:
        """[V] characters each token writes (0 for the specials)."""
        return torch.tensor([0] * SPECIALS + [len(t) for t in self.pieces], dtype=torch.long)


class TextModel(nn.Module):
    def __init__(self, context_cardinalities: list[int], vocab_size: int, n_columns: int,
                 embed: int = 48, hidden: int = 256, layers: int = 1, head_rank: int = 0, room: bool = True):
        super().__init__()
        S = len(context_cardinalities)
        self.context_cardinalities = list(context_cardinalities)
        self.vocab_size, self.n_columns = vocab_size, n_columns
        self.embed, self.hidden, self.layers, self.head_rank = embed, hidden, layers, head_rank
        self.room = room
        offsets = torch.tensor([0, *context_cardinalities[:-1]], dtype=torch.long).cumsum(0) if S else torch.zeros(0)
        self.register_buffer("offsets", offsets.long(), persistent=False)
        self.context_embedding = nn.Embedding(max(sum(context_cardinalities), 1), CONTEXT_DIM)
        # + S: the rows' value positions (``row_positions``), in models with the length-aware input
        self.context = nn.Linear(max(S, 1) * CONTEXT_DIM + (S if room else 0), hidden)
        self.initial = nn.Linear(hidden, layers * hidden)
        self.context_input = nn.Linear(hidden, embed)
        self.char_embedding = nn.Embedding(vocab_size, embed)
        self.column_embedding = nn.Embedding(n_columns + 1, embed)  # + 1: after the last END (padding)
        self.room_embedding = nn.Embedding(MAX_ROOM + 1, embed) if room else None
        self.rnn = nn.GRU(embed, hidden, layers, batch_first=True)
        self.dropout = nn.Dropout(DROPOUT if room else 0.0)
        R = head_rank or hidden
        self.head_in = nn.Linear(hidden, head_rank) if head_rank else nn.Identity()
        self.context_head = nn.Linear(hidden, R) if room else None
        # [SHORTLIST, ..., V] (adaptive) or [V] (plain); the tails: R -> R / 2**k -> cluster k's tokens
        self.cutoffs = cutoffs(vocab_size) if room else [vocab_size]
        bounds = self.cutoffs
        self.head = nn.Linear(R, bounds[0] + len(bounds) - 1)
        self.tail_in = nn.ModuleList(nn.Linear(R, max(R >> (k + 1), 1), bias=False) for k in range(len(bounds) - 1))
        self.tail_out = nn.ModuleList(nn.Linear(max(R >> (k + 1), 1), b - a)
                                      for k, (a, b) in enumerate(zip(bounds, bounds[1:])))

    def start(self, context_tokens: torch.Tensor, positions: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """From the rows' flat tokens [B, S] and their values' positions [B, S]
        (``row_positions``; None: zeros): the per-step context input [B, E (+ R)] and the
        GRU's initial state [L, B, H]."""
        B, S = len(context_tokens), len(self.context_cardinalities)
        if S:
            emb = self.context_embedding(context_tokens.long() + self.offsets).reshape(B, -1)  # [B, S*C]
        else:
            emb = torch.zeros((B, CONTEXT_DIM), device=self.head.weight.device)
        if self.room and S:
            emb = torch.cat([emb, torch.zeros((B, S), device=emb.device) if positions is None else positions.float()], 1)
        c = torch.tanh(self.context(emb))  # [B, H]
        h0 = torch.tanh(self.initial(c)).reshape(B, self.layers, self.hidden).transpose(0, 1).contiguous()
        c_in = self.context_input(c)  # [B, E]
        if self.context_head is not None:
            c_in = torch.cat([c_in, self.context_head(c)], 1)  # [B, E + R]
        return c_in, h0

    def forward(self, chars: torch.Tensor, columns: torch.Tensor, room: torch.Tensor, c_in: torch.Tensor,
                h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities [B, T, V] of the next token after ``chars`` [B, T] (input ids),
        with ``columns`` [B, T] the text column each step writes and ``room`` [B, T] the
        characters it may still take; returns the new state too."""
        features, h = self.features(chars, columns, room, c_in, h)
        return self.log_probs(features), h

    def features(self, chars: torch.Tensor, columns: torch.Tensor, room: torch.Tensor, c_in: torch.Tensor,
                 h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the output layer reads [B, T, R] (``log_probs``/``nll`` of it), given the
        context input ``c_in`` of ``start``."""
        E = self.embed
        x = self.char_embedding(chars) + self.column_embedding(columns) + c_in[:, None, :E]
        if self.room_embedding is not None:
            x = x + self.room_embedding(room.clamp(0, MAX_ROOM))
        out, h = self.rnn(x, h)
        features = self.head_in(self.dropout(out))
        if self.context_head is not None:
            features = features + c_in[:, None, E:]
        return features, h

    def log_probs(self, features: torch.Tensor) -> torch.Tensor:
        """[..., V] log-probabilities of every token from features [..., R]."""
        head = torch.log_softmax(self.head(features), -1)
        first = self.cutoffs[0]
        parts = [head[..., :first]]
        for k in range(len(self.cutoffs) - 1):
            tail = torch.log_softmax(self.tail_out[k](self.tail_in[k](features)), -1)
            parts.append(tail + head[..., first + k, None])
        return torch.cat(parts, -1)

    def logits(self, features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """[N, len(ids)] logits of the tokens ``ids`` (ascending) from features [N, R]: their
        softmax is the model's distribution restricted to them (sampling draws a column's
        own tokens only, and computes no log-softmax it does not need)."""
        first = self.cutoffs[0]
        head = self.head(features)  # [N, SHORTLIST + clusters]
        parts = [head[:, ids[ids < first]]]
        for k, (a, b) in enumerate(zip(self.cutoffs, self.cutoffs[1:])):
            mine = ids[(ids >= a) & (ids < b)]
            if len(mine):
                tail = self.tail_out[k](self.tail_in[k](features))  # [N, b - a]
                parts.append(tail[:, mine - a] + (head[:, first + k] - tail.logsumexp(-1))[:, None])
        return torch.cat(parts, 1)

    def probs(self, features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """[N, len(ids)] the probabilities of the tokens ``ids`` (ascending) from features
        [N, R], not renormalised over them: what ``logits`` gives, in fewer passes over a
        cluster (sampling at temperature 1)."""
        first = self.cutoffs[0]
        head = torch.softmax(self.head(features), -1)  # [N, SHORTLIST + clusters]
        parts = [head[:, ids[ids < first]]]
        for k, (a, b) in enumerate(zip(self.cutoffs, self.cutoffs[1:])):
            mine = ids[(ids >= a) & (ids < b)]
            if len(mine):
                tail = self.tail_out[k](self.tail_in[k](features))  # [N, b - a]
                tail = (tail - tail.amax(-1, keepdim=True)).exp_()
                parts.append(tail[:, mine - a] * (head[:, first + k] / tail.sum(-1))[:, None])
        return torch.cat(parts, 1)

    def nll(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """[N] negative log-likelihood of each target token [N] given features [N, R]; a rare
        token's cluster is computed only for the steps that need it."""
        head = torch.log_softmax(self.head(features), -1)  # [N, SHORTLIST + clusters]
        first = self.cutoffs[0]
        in_head = target < first
        out = -head.gather(1, torch.where(in_head, target, 0)[:, None])[:, 0]
        for k, (a, b) in enumerate(zip(self.cutoffs, self.cutoffs[1:])):
            rows = ((target >= a) & (target < b)).nonzero()[:, 0]
            if not len(rows):
                continue
            tail = torch.log_softmax(self.tail_out[k](self.tail_in[k](features[rows])), -1)
            lp = head[rows, first + k] + tail.gather(1, (target[rows] - a)[:, None])[:, 0]
            out = out.index_put((rows,), -lp)
        return out


def text_shapes(context_cardinalities: list[int], vocab_size: int, n_columns: int, embed: int, hidden: int,
                layers: int, head_rank: int = 0, room: bool = True) -> dict[str, tuple[int, ...]]:
    """``TextModel``'s state_dict shapes, computed without building it (a test keeps them equal)."""
    S, E, H = len(context_cardinalities), embed, hidden
    shapes = {
        "context_embedding.weight": (max(sum(context_cardinalities), 1), CONTEXT_DIM),
        "context.weight": (H, max(S, 1) * CONTEXT_DIM + (S if room else 0)), "context.bias": (H,),
        "initial.weight": (layers * H, H), "initial.bias": (layers * H,),
        "context_input.weight": (E, H), "context_input.bias": (E,),
        "char_embedding.weight": (vocab_size, E),
        "column_embedding.weight": (n_columns + 1, E),
    }
    R = head_rank or H
    bounds = cutoffs(vocab_size) if room else [vocab_size]
    shapes.update({"head.weight": (bounds[0] + len(bounds) - 1, R), "head.bias": (bounds[0] + len(bounds) - 1,)})
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        r = max(R >> (k + 1), 1)
        shapes.update({f"tail_in.{k}.weight": (r, R), f"tail_out.{k}.weight": (b - a, r), f"tail_out.{k}.bias": (b - a,)})
    if room:
        shapes.update({"room_embedding.weight": (MAX_ROOM + 1, E), "context_head.weight": (R, H),
                       "context_head.bias": (R,)})
    if head_rank:
        shapes.update({"head_in.weight": (head_rank, H), "head_in.bias": (head_rank,)})
    for k in range(layers):
        shapes.update({f"rnn.weight_ih_l{k}": (3 * H, E if k == 0 else H), f"rnn.weight_hh_l{k}": (3 * H, H),
                       f"rnn.bias_ih_l{k}": (3 * H,), f"rnn.bias_hh_l{k}": (3 * H,)})
    return shapes
