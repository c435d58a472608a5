"""Free-text columns: a tokenizer fit on the column, and what the flat engine sees of it:
one token per row, null or the text's length bucket, so whether a row has a text and
roughly how long it is are drawn with the rest of the row. The text itself is written by
the text model (``lookalike.text``) given that row.

The tokenizer is chosen by the column's shape: texts made mostly of words that many rows
share (titles, descriptions, first names) get ``words``: every word or punctuation
mark used by at least MIN_ROWS_PER_CHAR rows is one token (with its leading space),
anything rarer is spelled in characters; texts of mostly one-off strings (codes, rare
names) get ``characters``. Either way a token (and a character) that fewer than
MIN_ROWS_PER_CHAR training rows used never appears in the output."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from .base import NULL, ColumnEncoder, restore_dtype

MIN_ROWS_PER_CHAR = 5  # a character used by fewer training rows never appears in the output
MAX_TEXT_LENGTH = 200  # characters generated per text at most
LENGTH_QUANTILE = 0.99  # a column's max length: this quantile of its lengths (longer texts are cut)
LENGTH_BUCKETS = 8  # the flat engine's view of a text: null or one of these length ranges
PROTECTED_LOW_QUANTILE = 0.01  # the shortest bucket starts here, not at one row's length
LENGTH_POINT_SHARE = 0.02  # a length held by this share of the texts gets a bucket of its own (a field's cap)
MAX_LENGTH_BUCKETS = LENGTH_BUCKETS + 2 * round(1 / LENGTH_POINT_SHARE)  # what a model file may hold
WORDS_MIN_COVERAGE = 0.3  # share of the characters in shared words from which a column is tokenized in words
MAX_WORD_TOKENS = 4_000  # the most used words (by rows) a ``words`` tokenizer keeps
MAX_PIECE_LENGTH = 40  # characters of one word token at most
_PIECE = re.compile(r" ?[^\W_]+| ?[^\w\s]|\s| ?_+")  # a word or a punctuation mark, with its leading space


class TextEncoder(ColumnEncoder):
    """Tokens of the flat engine: 0 = null, 1..B = length buckets (``length_starts_``: the
    shortest length of each). The tokenizer (``tokenizer_``: "characters" or "words"):
    ``vocab_``, the characters used by at least MIN_ROWS_PER_CHAR training rows (others map
    to a close character, e.g. 'é' -> 'e', or are dropped), and with "words" the words
    used by as many rows, most used tokens first; and ``max_length_`` in characters."""

    kind = "text"

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> TextEncoder:
        texts = [str(v) for v in s.dropna().to_numpy(dtype=object)]
        rows_with = Counter(ch for t in texts for ch in set(t))
        least = MIN_ROWS_PER_CHAR if protect else 1
        self.tokenizer_ = "characters"
        self.vocab_ = sorted(ch for ch, k in rows_with.items() if k >= least)
        cleaned = [self.clean(t) for t in texts]
        if cleaned:
            rows_with = Counter(p for t in cleaned for p in set(_PIECE.findall(t)))
            words = [p for p, k in rows_with.items() if k >= max(least, 2) and 1 < len(p) <= MAX_PIECE_LENGTH]
            words = set(sorted(words, key=lambda p: (-rows_with[p], p))[:MAX_WORD_TOKENS])
            covered = sum(len(p) for t in cleaned for p in _PIECE.findall(t) if p in words)
            if covered >= WORDS_MIN_COVERAGE * sum(map(len, cleaned)):
                self.tokenizer_, self.vocab_ = "words", self.vocab_ + sorted(words)
            used = Counter(p for t in cleaned for p in self.tokenize(t))  # most used first (the text model's order)
            self.vocab_ = sorted(self.vocab_, key=lambda p: (-used[p], p))
        lengths = np.array([len(t) for t in cleaned], dtype=float)
        if len(lengths):
            top = math.ceil(np.quantile(lengths, LENGTH_QUANTILE))
            self.max_length_ = int(min(max(top, 1), MAX_TEXT_LENGTH))
            low = PROTECTED_LOW_QUANTILE if protect else 0.0
            qs = [low] + [b / LENGTH_BUCKETS for b in range(1, LENGTH_BUCKETS)]
            capped = np.minimum(lengths, self.max_length_)
            starts = {int(v) for v in np.floor(np.quantile(capped, qs))}
            values, counts = np.unique(capped, return_counts=True)
            for v in values[(counts >= LENGTH_POINT_SHARE * len(capped)) & (values >= min(starts))]:
                starts |= {int(v), int(v) + 1} if v < self.max_length_ else {int(v)}  # exactly v
            self.length_starts_ = sorted(starts)
        else:
            self.max_length_, self.length_starts_ = 1, [0]
        self.has_null_ = bool(s.isna().any())
        return self

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnEncoder:
        if "categories_" in state:  # a file from before text generation (or a DP model): categories
            from .categorical import TextCategoryEncoder

            return TextCategoryEncoder.from_state(state)
        enc = super().from_state(state)
        enc.tokenizer_ = state.get("tokenizer_", "characters")  # files from before word tokens: characters
        vocab, starts, top = enc.vocab_, enc.length_starts_, enc.max_length_
        longest = 1 if enc.tokenizer_ == "characters" else MAX_PIECE_LENGTH
        if enc.tokenizer_ not in ("characters", "words"):
            raise ValueError(f"column '{enc.name}': unknown text tokenizer {enc.tokenizer_!r}")
        if not (isinstance(vocab, list) and all(isinstance(c, str) and 1 <= len(c) <= longest for c in vocab)
                and len(set(vocab)) == len(vocab)):
            raise ValueError(f"column '{enc.name}': the text vocabulary is not a list of distinct tokens")
        if not (isinstance(top, int) and 1 <= top <= MAX_TEXT_LENGTH):
            raise ValueError(f"column '{enc.name}': text max length {top!r} out of range")
        if not (isinstance(starts, list) and 1 <= len(starts) <= MAX_LENGTH_BUCKETS
                and all(isinstance(v, int) and 0 <= v <= top for v in starts) and starts == sorted(set(starts))):
            raise ValueError(f"column '{enc.name}': text length buckets are invalid")
        return enc

    # --- the tokenizer ----------------------------------------------------------------
    def clean(self, text: str) -> str:
        """The text in the vocabulary's characters: a rare one becomes its base letter when
        that is known ('é' -> 'e'), else it is dropped."""
        known = self._known()
        if all(ch in known for ch in text):
            return text
        out = []
        for ch in text:
            if ch in known:
                out.append(ch)
            else:
                out.extend(c for c in unicodedata.normalize("NFKD", ch) if c in known)
        return "".join(out)

    def _known(self) -> frozenset[str]:
        cached = getattr(self, "_known_set", None)
        if cached is None or cached[0] is not self.vocab_:
            cached = (self.vocab_, frozenset(self.vocab_))
            self._known_set = cached
        return cached[1]

    def tokenize(self, text: str) -> list[str]:
        """A cleaned text as tokens of ``vocab_``: known words whole (a word without its
        leading space when only that is known), anything else character by character."""
        if getattr(self, "tokenizer_", "characters") == "characters":
            return list(text)
        known, out = self._known(), []
        for piece in _PIECE.findall(text):
            if piece in known:
                out.append(piece)
            elif piece[0] == " " and piece[1:] in known:
                out += [" ", piece[1:]] if " " in known else [piece[1:]]
            else:
                out.extend(ch for ch in piece if ch in known)
        return out

    def texts(self, s: pd.Series) -> list[str | None]:
        """Each value cleaned and cut to ``max_length_`` (None for nulls): what the text
        model learns from."""
        return [None if pd.isna(v) else self.clean(str(v))[: self.max_length_] for v in s.to_numpy(dtype=object)]

    def describe(self) -> dict:
        return {"tokenizer": getattr(self, "tokenizer_", "characters"), "vocab_size": len(self.vocab_),
                "max_length": self.max_length_, "length_buckets": len(self.length_starts_)}

    # --- the flat engine's token -------------------------------------------------------
    @property
    def cardinalities(self) -> list[int]:
        return [1 + len(self.length_starts_)]

    def allowed(self) -> list[np.ndarray]:
        a = np.ones(self.cardinalities[0], dtype=bool)
        a[NULL] = self.has_null_
        return [a]

    def encode(self, s: pd.Series) -> np.ndarray:
        texts = self.texts(s)
        lengths = np.array([0 if t is None else len(t) for t in texts])
        codes = np.searchsorted(np.asarray(self.length_starts_), lengths, side="right").clip(1, None)
        codes[np.array([t is None for t in texts], dtype=bool)] = NULL
        return codes.astype(np.int64)[:, None]

    def min_length(self, tokens: np.ndarray) -> np.ndarray:
        """The shortest text each token's length bucket holds (0 for null)."""
        starts = np.array([0, *self.length_starts_])
        return starts[np.clip(tokens, 0, len(starts) - 1)]

    def max_length(self, tokens: np.ndarray) -> np.ndarray:
        """The longest text each token's length bucket holds (0 for null)."""
        ends = np.array([0, *[v - 1 for v in self.length_starts_[1:]], self.max_length_])
        return ends[np.clip(tokens, 0, len(ends) - 1)]

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        """Nulls where the token says so and empty strings elsewhere: the text model writes
        the texts (``Generator`` does, after the flat columns are drawn)."""
        values = np.where(tokens[:, 0] == NULL, None, "").astype(object)
        return restore_dtype(pd.Series(values, name=self.name, dtype=object), self.dtype)
