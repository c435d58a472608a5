"""Text generation for ``text`` columns: a word/character model that writes each row's texts
given the row's other columns (``model.py``), its training (``training.py``) and its
sampling (``sampling.py``). The tokenizers live in ``encoding/text.py``; ``train_table``
trains this after the flat model, and ``Generator`` writes the texts after drawing the
flat columns. With ``text_model``, ``hf.py`` fine-tunes a local Hugging Face language model
in its place."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..artifact import TEXT_FORMAT
from .model import TextModel, TextVocab


@dataclass
class TextPart:
    """A table's trained text model: its ``columns`` (in table order), the network, and
    per column (only with ``text_never_replay``) keyed 32-bit hashes of the training texts
    a generated text must not equal."""

    columns: list[str]
    vocab: TextVocab
    model: TextModel
    replay_key: str = ""
    replay: dict[str, list[int]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The network description saved in meta.json (checked by ``artifact`` on load)."""
        m = self.model
        return {"text_format": TEXT_FORMAT, "columns": self.columns, "vocab_size": m.vocab_size, "embed": m.embed,
                "hidden": m.hidden, "layers": m.layers, "head_rank": m.head_rank, "room": m.room,
                "context_cardinalities": m.context_cardinalities, "replay_key": self.replay_key, "replay": self.replay}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights the model file keeps (prefixed "text." there)."""
        return self.model.state_dict()


def row_positions(encoder: Any, tokens: np.ndarray) -> np.ndarray:
    """[n, S] float32: for the first sub-column of each numeric (and date) column, where the
    row's value lies among the column's training values, from -1 (lowest) to 1 (highest), read
    off its tokens (quantile bin and place inside it; a point mass by its value); 0 for nulls
    and every other sub-column. The embedded tokens say the same without the order: with it,
    what a text says of a cheap row carries over to the neighbouring price bins."""
    from ..encoding.numeric import N_FINE, NumericEncoder

    out = np.zeros(tokens.shape, dtype=np.float32)
    for e in encoder.encoders:
        if not isinstance(e, NumericEncoder) or getattr(e, "edges_", None) is None or not e.n_bins:
            continue
        subs = encoder.subs_of(e.name)
        first, fine = tokens[:, subs[0]].astype(np.int64), tokens[:, subs[-1]].astype(np.int64)
        edges, n_bins, P = np.asarray(e.edges_, dtype=np.float64), e.n_bins, len(e.points_)
        cells = np.asarray(e._cells(), dtype=np.float64)  # [n_bins, N_FINE + 1]: where the fine tokens start
        pts = np.asarray(e.points_, dtype=np.float64)
        j = (np.searchsorted(edges, pts, side="right") - 1).clip(0, n_bins - 1)
        k = (np.array([np.searchsorted(cells[b], v, side="right") for b, v in zip(j, pts)], dtype=np.int64) - 1
             ).clip(0, N_FINE - 1)
        lo, hi = cells[j, k], cells[j, k + 1]
        point_pos = (j + (k + ((pts - lo) / np.maximum(hi - lo, 1e-12)).clip(0, 1)) / N_FINE) / n_bins  # [P]
        in_bin = (first - 1 - P + (fine.clip(0, N_FINE - 1) + 0.5) / N_FINE) / n_bins
        pos = np.where(first > P, in_bin, point_pos[(first - 1).clip(0, max(P - 1, 0))] if P else 0.0)
        out[:, subs[0]] = np.where(first == 0, 0.0, 2 * pos.clip(0, 1) - 1)
    return out


def replay_hash(text: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=4, key=key.encode()).digest(), "little")


__all__ = ["TextPart", "TextModel", "TextVocab", "replay_hash", "row_positions"]
