"""Text generation for ``text`` columns: a word/character model that writes each row's texts
given the row's other columns (``model.py``), its training (``training.py``) and its
sampling (``sampling.py``). The tokenizers live in ``encoding/text.py``; ``train_table``
trains this after the flat model, and ``Generator`` writes the texts after drawing the
flat columns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

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
        return {"columns": self.columns, "vocab_size": m.vocab_size, "embed": m.embed, "hidden": m.hidden,
                "layers": m.layers, "head_rank": m.head_rank, "room": m.room, "context_cardinalities": m.context_cardinalities,
                "replay_key": self.replay_key, "replay": self.replay}


def replay_hash(text: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=4, key=key.encode()).digest(), "little")


__all__ = ["TextPart", "TextModel", "TextVocab", "replay_hash"]
