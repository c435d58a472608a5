"""The text section of the QA report: how close are generated free-text values to real ones?

Text columns (free text, mostly unique values) are poorly served by binned category
frequencies, so each is scored on its own terms: validity (non-empty, null share), length
and word-frequency accuracy (1 - TVD), exact copies of training texts, and diversity. Every
figure is computed for the synthetic table and for the holdout, both against training;
the holdout's figure is the best to expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import TextMetrics, TextScores

MAX_ROWS = 10_000  # per table; the figures are stable far below this
N_LENGTH_BINS = 10
N_TERMS = 1_000
N_SAMPLES = 5
MAX_SAMPLE_CHARS = 500  # sample texts are cut here to keep the JSON and page small
_TOKEN = r"\w+"


def text_columns(train: pd.DataFrame, types: Mapping[str, str] | None = None) -> list[str]:
    """Training columns that hold free text: kind ``text`` in ``types`` (the training
    options' overrides), else as ``schema`` infers it for string columns."""
    from ..schema import _infer_kind

    types = dict(types or {})
    out = []
    for name in train.columns:
        kind = types.get(name)
        if kind is None:
            s = train[name]
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            kind = _infer_kind(str(name), s)
        if kind == "text":
            out.append(name)
    return out


def _strings(s: pd.Series) -> pd.Series:
    """Values as Python strings (object dtype), nulls as None."""
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


def _sample(s: pd.Series, rng: np.random.Generator) -> pd.Series:
    return s if len(s) <= MAX_ROWS else s.iloc[np.sort(rng.choice(len(s), MAX_ROWS, replace=False))]


def _tvd_accuracy(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """1 - total variation distance of two count vectors; two empty ones are identical."""
    p_sum, q_sum = p_counts.sum(), q_counts.sum()
    if p_sum == 0 and q_sum == 0:
        return 1.0
    if p_sum == 0 or q_sum == 0:
        return 0.0
    return float(1.0 - 0.5 * np.abs(p_counts / p_sum - q_counts / q_sum).sum())


def _tokens(texts: pd.Series) -> list[list[str]]:
    return texts.str.lower().str.findall(_TOKEN).tolist()


@dataclass
class ColumnReference:
    """One training text column prepared once: length bins, top terms, every training text."""

    name: str
    length_edges: np.ndarray  # inner edges of the quantile bins of character length
    length_counts: np.ndarray
    terms: pd.Index  # the top training terms; everything else is "other"
    term_counts: np.ndarray  # len(terms) + 1, the last one "other"
    train_texts: pd.Index  # every training text, for exact matches

    @classmethod
    def fit(cls, name: str, train: pd.Series, rng: np.random.Generator) -> ColumnReference:
        texts = _strings(_sample(train, rng)).dropna()
        lengths = texts.str.len().to_numpy(dtype=np.float64)
        edges = (np.unique(np.quantile(lengths, np.linspace(0, 1, N_LENGTH_BINS + 1)[1:-1]))
                 if len(lengths) else np.empty(0))
        counts = pd.Series([t for ts in _tokens(texts) for t in ts], dtype=object).value_counts()
        ref = cls(name, edges, np.empty(0), pd.Index(counts.index[:N_TERMS], dtype=object), np.empty(0),
                  pd.Index(_strings(train).dropna().unique(), dtype=object))
        ref.length_counts, ref.term_counts = ref.length_histogram(texts), ref.term_histogram(texts)
        return ref

    def length_histogram(self, texts: pd.Series) -> np.ndarray:
        lengths = texts.str.len().to_numpy(dtype=np.float64)
        return np.bincount(np.searchsorted(self.length_edges, lengths, side="right"),
                           minlength=len(self.length_edges) + 1).astype(np.float64)

    def term_histogram(self, texts: pd.Series) -> np.ndarray:
        flat = [t for ts in _tokens(texts) for t in ts]
        codes = self.terms.get_indexer(pd.Index(flat, dtype=object)) if flat else np.empty(0, dtype=np.int64)
        codes = np.where(codes < 0, len(self.terms), codes)  # "other"
        return np.bincount(codes, minlength=len(self.terms) + 1).astype(np.float64)

    def score(self, column: pd.Series, rng: np.random.Generator) -> tuple[TextScores, list[str]]:
        """The figures of one table's column, and a few of its texts."""
        values = _strings(_sample(column, rng))
        texts = values.dropna()
        n, n_text = len(values), len(texts)
        bigrams = [(a, b) for ts in _tokens(texts) for a, b in zip(ts, ts[1:])]
        scores = TextScores(
            null_share=float(1 - n_text / n) if n else 0.0,
            non_empty_share=float((texts.str.strip() != "").mean()) if n_text else 0.0,
            length_accuracy=_tvd_accuracy(self.length_counts, self.length_histogram(texts)),
            term_accuracy=_tvd_accuracy(self.term_counts, self.term_histogram(texts)),
            exact_match_share=float(texts.isin(self.train_texts).mean()) if n_text else 0.0,
            unique_share=float(texts.nunique() / n_text) if n_text else 0.0,
            distinct_2=len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
            mean_length=float(texts.str.len().mean()) if n_text else 0.0,
        )
        pick = rng.choice(n_text, min(N_SAMPLES, n_text), replace=False) if n_text else []
        return scores, [texts.iloc[i][:MAX_SAMPLE_CHARS] for i in sorted(pick)]


@dataclass
class TextReference:
    """Every text column of the training table, and the holdout's figures (the reference)."""

    columns: list[ColumnReference]
    holdout: dict[str, tuple[TextScores, list[str]]] | None
    seed: int

    @classmethod
    def build(cls, train: pd.DataFrame, holdout: pd.DataFrame | None, names: list[str],
              seed: int) -> TextReference | None:
        """None when the training table has no text column."""
        if not names:
            return None
        rng = np.random.default_rng([seed, 0x7E47])  # its own stream: other figures keep theirs
        columns = [ColumnReference.fit(name, train[name], rng) for name in names]
        scored = None
        if holdout is not None:
            scored = {c.name: c.score(holdout[c.name], rng) for c in columns}
        return cls(columns, scored, seed)

    def score(self, synthetic: pd.DataFrame) -> dict[str, TextMetrics]:
        """Column → the synthetic table's figures beside the holdout's; same seed, same figures."""
        rng = np.random.default_rng([self.seed, 0x7E47, 1])
        out = {}
        for c in self.columns:
            scores, samples = c.score(synthetic[c.name], rng)
            ref, real = self.holdout[c.name] if self.holdout is not None else (None, [])
            out[str(c.name)] = TextMetrics(**scores.model_dump(), reference=ref, samples=samples,
                                           real_samples=real)
        return out
