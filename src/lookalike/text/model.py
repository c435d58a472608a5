"""The text network: a character GRU that writes a row's texts given the row's flat tokens.

A row's text columns form one sequence, ``BOS t1 END t2 END ...``, so each text is written
knowing the ones before it. The row's flat tokens (every sub-column of the flat model,
including each text column's null/length bucket) are embedded, concatenated and projected
to a context vector ``c`` [B, H]; ``c`` sets the GRU's initial state and is added to every
step's input, with an embedding of which text column is being written.

Shapes: B rows, T steps, S flat sub-columns, V characters + specials, E embedding size,
H hidden units, L GRU layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PAD, BOS, END = 0, 1, 2  # END closes each text column's segment
SPECIALS = 3
TEXT_SIZES = {"small": (32, 192, 1), "medium": (48, 256, 1), "large": (64, 384, 2)}  # (E, H, L) per model_size
CONTEXT_DIM = 8  # embedding size of each flat token in the context


@dataclass
class TextVocab:
    """The text model's characters: the union of its columns' tokenizer vocabularies."""

    chars: list[str]

    @classmethod
    def of(cls, vocabs: list[list[str]]) -> TextVocab:
        return cls(sorted(set().union(*map(set, vocabs))))

    @property
    def size(self) -> int:
        return SPECIALS + len(self.chars)

    def ids(self, text: str) -> list[int]:
        lookup = self._lookup()
        return [lookup[ch] for ch in text if ch in lookup]

    def _lookup(self) -> dict[str, int]:
        if getattr(self, "_ids", None) is None:
            self._ids = {ch: SPECIALS + i for i, ch in enumerate(self.chars)}
        return self._ids

    def allowed(self, vocab: list[str]) -> torch.Tensor:
        """[V] bool: END and a column's own characters."""
        mask = torch.zeros(self.size, dtype=torch.bool)
        mask[END] = True
        lookup = self._lookup()
        mask[[lookup[ch] for ch in vocab]] = True
        return mask


class TextModel(nn.Module):
    def __init__(self, context_cardinalities: list[int], vocab_size: int, n_columns: int,
                 embed: int = 48, hidden: int = 256, layers: int = 1):
        super().__init__()
        S = len(context_cardinalities)
        self.context_cardinalities = list(context_cardinalities)
        self.vocab_size, self.n_columns = vocab_size, n_columns
        self.embed, self.hidden, self.layers = embed, hidden, layers
        offsets = torch.tensor([0, *context_cardinalities[:-1]], dtype=torch.long).cumsum(0) if S else torch.zeros(0)
        self.register_buffer("offsets", offsets.long(), persistent=False)
        self.context_embedding = nn.Embedding(max(sum(context_cardinalities), 1), CONTEXT_DIM)
        self.context = nn.Linear(max(S, 1) * CONTEXT_DIM, hidden)
        self.initial = nn.Linear(hidden, layers * hidden)
        self.context_input = nn.Linear(hidden, embed)
        self.char_embedding = nn.Embedding(vocab_size, embed)
        self.column_embedding = nn.Embedding(n_columns + 1, embed)  # + 1: after the last END (padding)
        self.rnn = nn.GRU(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

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

    def forward(self, chars: torch.Tensor, columns: torch.Tensor, c_in: torch.Tensor, h: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, T, V] of the next character after ``chars`` [B, T] (input ids), with
        ``columns`` [B, T] the text column each step writes; returns the new state too."""
        x = self.char_embedding(chars) + self.column_embedding(columns) + c_in[:, None, :]
        out, h = self.rnn(x, h)
        return self.head(out), h


def text_shapes(context_cardinalities: list[int], vocab_size: int, n_columns: int, embed: int, hidden: int,
                layers: int) -> dict[str, tuple[int, ...]]:
    """``TextModel``'s state_dict shapes, computed without building it (a test keeps them equal)."""
    S, E, H = len(context_cardinalities), embed, hidden
    shapes = {
        "context_embedding.weight": (max(sum(context_cardinalities), 1), CONTEXT_DIM),
        "context.weight": (H, max(S, 1) * CONTEXT_DIM), "context.bias": (H,),
        "initial.weight": (layers * H, H), "initial.bias": (layers * H,),
        "context_input.weight": (E, H), "context_input.bias": (E,),
        "char_embedding.weight": (vocab_size, E),
        "column_embedding.weight": (n_columns + 1, E),
        "head.weight": (vocab_size, H), "head.bias": (vocab_size,),
    }
    for k in range(layers):
        shapes.update({f"rnn.weight_ih_l{k}": (3 * H, E if k == 0 else H), f"rnn.weight_hh_l{k}": (3 * H, H),
                       f"rnn.bias_ih_l{k}": (3 * H,), f"rnn.bias_hh_l{k}": (3 * H,)})
    return shapes
