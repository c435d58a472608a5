"""The text network: a GRU that writes a row's texts, token by token (words or characters,
as each column's tokenizer says), given the row's flat tokens.

A row's text columns form one sequence, ``BOS t1 END t2 END ...``, so each text is written
knowing the ones before it. The row's flat tokens (every sub-column of the flat model,
including each text column's null/length bucket) are embedded, concatenated and projected
to a context vector ``c`` [B, H]; ``c`` sets the GRU's initial state and is added to every
step's input, with an embedding of which text column is being written and one of how many
characters the text may still take (its length bucket's longest minus what is written,
capped at MAX_ROOM: ``room``), so texts end where their length bucket says. The output layer
goes through R < H units first (``head_rank``; 0: straight from H), so a vocabulary of
thousands of words costs R, not H, multiply-adds per token and word.

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


@dataclass
class TextVocab:
    """The text model's tokens (characters and words): the union of its columns' tokenizer
    vocabularies."""

    pieces: list[str]

    @classmethod
    def of(cls, vocabs: list[list[str]]) -> TextVocab:
        return cls(sorted(set().union(*map(set, vocabs))))

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
        self.context = nn.Linear(max(S, 1) * CONTEXT_DIM, hidden)
        self.initial = nn.Linear(hidden, layers * hidden)
        self.context_input = nn.Linear(hidden, embed)
        self.char_embedding = nn.Embedding(vocab_size, embed)
        self.column_embedding = nn.Embedding(n_columns + 1, embed)  # + 1: after the last END (padding)
        self.room_embedding = nn.Embedding(MAX_ROOM + 1, embed) if room else None
        self.rnn = nn.GRU(embed, hidden, layers, batch_first=True)
        self.head_in = nn.Linear(hidden, head_rank) if head_rank else nn.Identity()
        self.head = nn.Linear(head_rank or hidden, vocab_size)

    def start(self, context_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """From the rows' flat tokens [B, S]: the per-step context input [B, E] and the
        GRU's initial state [L, B, H]."""
        B = len(context_tokens)
        if self.context_cardinalities:
            emb = self.context_embedding(context_tokens.long() + self.offsets).reshape(B, -1)  # [B, S*C]
        else:
            emb = torch.zeros((B, CONTEXT_DIM), device=self.head.weight.device)
        c = torch.tanh(self.context(emb))  # [B, H]
        h0 = torch.tanh(self.initial(c)).reshape(B, self.layers, self.hidden).transpose(0, 1).contiguous()
        return self.context_input(c), h0

    def forward(self, chars: torch.Tensor, columns: torch.Tensor, room: torch.Tensor, c_in: torch.Tensor,
                h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, T, V] of the next token after ``chars`` [B, T] (input ids), with
        ``columns`` [B, T] the text column each step writes and ``room`` [B, T] the characters
        it may still take; returns the new state too."""
        features, h = self.features(chars, columns, room, c_in, h)
        return self.head(features), h

    def features(self, chars: torch.Tensor, columns: torch.Tensor, room: torch.Tensor, c_in: torch.Tensor,
                 h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the output layer reads [B, T, R] (logits = ``head(features)``): sampling
        computes only the logits of the tokens a column may write."""
        x = self.char_embedding(chars) + self.column_embedding(columns) + c_in[:, None, :]
        if self.room_embedding is not None:
            x = x + self.room_embedding(room.clamp(0, MAX_ROOM))
        out, h = self.rnn(x, h)
        return self.head_in(out), h


def text_shapes(context_cardinalities: list[int], vocab_size: int, n_columns: int, embed: int, hidden: int,
                layers: int, head_rank: int = 0, room: bool = True) -> dict[str, tuple[int, ...]]:
    """``TextModel``'s state_dict shapes, computed without building it (a test keeps them equal)."""
    S, E, H = len(context_cardinalities), embed, hidden
    shapes = {
        "context_embedding.weight": (max(sum(context_cardinalities), 1), CONTEXT_DIM),
        "context.weight": (H, max(S, 1) * CONTEXT_DIM), "context.bias": (H,),
        "initial.weight": (layers * H, H), "initial.bias": (layers * H,),
        "context_input.weight": (E, H), "context_input.bias": (E,),
        "char_embedding.weight": (vocab_size, E),
        "column_embedding.weight": (n_columns + 1, E),
        "head.weight": (vocab_size, head_rank or H), "head.bias": (vocab_size,),
    }
    if room:
        shapes["room_embedding.weight"] = (MAX_ROOM + 1, E)
    if head_rank:
        shapes.update({"head_in.weight": (head_rank, H), "head_in.bias": (head_rank,)})
    for k in range(layers):
        shapes.update({f"rnn.weight_ih_l{k}": (3 * H, E if k == 0 else H), f"rnn.weight_hh_l{k}": (3 * H, H),
                       f"rnn.bias_ih_l{k}": (3 * H,), f"rnn.bias_hh_l{k}": (3 * H,)})
    return shapes
