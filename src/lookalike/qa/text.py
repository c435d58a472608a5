"""The text section of the QA report: how close are generated free-text values to real ones?

Text columns (free text, mostly unique values) are poorly served by binned category
frequencies, so each is scored on its own terms: validity (non-empty, null share), length
and word-frequency accuracy (1 - TVD), exact copies of training texts, and diversity. Every
figure is computed for the synthetic table and for the holdout, both against training;
the holdout's figure is the best to expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .metrics import TextMetrics, TextScores

MAX_ROWS = 10_000  # per table; the figures are stable far below this
N_LENGTH_BINS = 10
N_TERMS = 1_000
N_SAMPLES = 5
MAX_SAMPLE_CHARS = 500  # sample texts are cut here to keep the JSON and page small
_TOKEN = r"\w+"
N_MEDIAN_TERMS = 20  # the most used training terms (of MIN_TERM_LETTERS letters at least) whose medians are compared
MIN_TERM_LETTERS = 3
MIN_TERM_ROWS = 20  # a term's median is compared when this many rows of both tables have it
MEDIAN_TOLERANCE = 0.10
MAX_CONDITIONING_COLUMNS = 3  # numeric and categorical columns each, in table order
MAX_CLASSES = 50  # a categorical column with more values is not predicted


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


def term_medians(texts: pd.Series, values: pd.Series, terms: list[str]) -> dict[str, tuple[float, int]]:
    """Per term: the median of ``values`` over the rows whose text has the term (lowercase
    word) and how many such rows have a value; NaN, 0 for a term no row has."""
    words = [set(ts) for ts in _tokens(_strings(texts).fillna(""))]
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    out = {}
    for term in terms:
        x = v[np.fromiter((term in w for w in words), dtype=bool, count=len(words))]
        x = x[~np.isnan(x)]
        out[term] = (float(np.median(x)) if len(x) else float("nan"), len(x))
    return out


def classifier_accuracy(train_texts: pd.Series, train_labels: pd.Series, test_texts: pd.Series,
                        test_labels: pd.Series, terms: pd.Index) -> float:
    """Accuracy on the test rows of a multinomial naive Bayes classifier (``terms`` + 'other'
    as features, add-one smoothing) trained to predict the label from the text."""
    def counts(texts: pd.Series) -> np.ndarray:
        x = np.zeros((len(texts), len(terms) + 1), dtype=np.float32)
        for r, ts in enumerate(_tokens(_strings(texts).fillna(""))):
            if ts:
                codes = terms.get_indexer(pd.Index(ts, dtype=object))
                np.add.at(x[r], np.where(codes < 0, len(terms), codes), 1.0)
        return x

    ok = train_labels.notna().to_numpy()
    labels, y = np.unique(train_labels[ok].astype(str).to_numpy(), return_inverse=True)
    test_ok = test_labels.notna().to_numpy()
    if not len(labels) or not test_ok.any():
        return 0.0
    x = counts(train_texts[ok])
    per_class = np.stack([x[y == k].sum(0) for k in range(len(labels))]) + 1.0  # [K, V + 1]
    log_p = np.log(per_class / per_class.sum(1, keepdims=True))
    log_prior = np.log(np.bincount(y, minlength=len(labels)) / len(y))
    guess = labels[(counts(test_texts[test_ok]) @ log_p.T + log_prior).argmax(1)]
    return float((guess == test_labels[test_ok].astype(str).to_numpy()).mean())


@dataclass
class Conditioning:
    """What a text says of its row, measured on training: the frequent terms' medians of each
    numeric column, the categorical columns to predict, and the test rows (the holdout's)."""

    numeric: list[str]
    categorical: list[str]
    terms: list[str]
    medians: dict[str, dict[str, tuple[float, int]]]  # numeric column -> term -> (median, rows)
    test: pd.DataFrame | None

    @classmethod
    def fit(cls, column: ColumnReference, train: pd.DataFrame, holdout: pd.DataFrame | None,
            rng: np.random.Generator) -> Conditioning:
        others = [c for c in train.columns if c != column.name]
        numeric = [c for c in others if pd.api.types.is_numeric_dtype(train[c])
                   and not pd.api.types.is_bool_dtype(train[c])][:MAX_CONDITIONING_COLUMNS]
        categorical = [c for c in others if c not in numeric and 2 <= train[c].nunique() <= MAX_CLASSES
                       ][:MAX_CONDITIONING_COLUMNS]
        terms = [t for t in column.terms if len(t) >= MIN_TERM_LETTERS and not t.isdigit()][:N_MEDIAN_TERMS]
        sample = _sample(train, rng)
        medians = {c: term_medians(sample[column.name], sample[c], terms) for c in numeric}
        test = None if holdout is None else _sample(holdout, rng)[[column.name, *categorical]]
        return cls(numeric, categorical, terms, medians, test)

    def scores(self, column: ColumnReference, table: pd.DataFrame, rng: np.random.Generator,
               test: pd.DataFrame | None = None) -> dict[str, float | None]:
        """The table's term-median and classifier figures (None where there is nothing to score);
        the classifier is tested on ``test`` (default the holdout's rows)."""
        table = _sample(table, rng)
        within = []
        for c, ref in self.medians.items():
            mine = term_medians(table[column.name], table[c], self.terms)
            for term, (m_ref, n_ref) in ref.items():
                m, n = mine[term]
                if min(n, n_ref) >= MIN_TERM_ROWS:
                    within.append(abs(m - m_ref) <= MEDIAN_TOLERANCE * abs(m_ref))
        test = self.test if test is None else test
        acc = [classifier_accuracy(table[column.name], table[c], test[column.name], test[c], column.terms)
               for c in self.categorical] if test is not None else []
        return {"term_median_accuracy": float(np.mean(within)) if within else None,
                "classifier_accuracy": float(np.mean(acc)) if acc else None}


@dataclass
class TextReference:
    """Every text column of the training table, and the holdout's figures (the reference)."""

    columns: list[ColumnReference]
    holdout: dict[str, tuple[TextScores, list[str]]] | None
    seed: int
    conditioning: dict[str, Conditioning] = field(default_factory=dict)

    @classmethod
    def build(cls, train: pd.DataFrame, holdout: pd.DataFrame | None, names: list[str],
              seed: int) -> TextReference | None:
        """None when the training table has no text column."""
        if not names:
            return None
        rng = np.random.default_rng([seed, 0x7E47])  # its own stream: other figures keep theirs
        columns = [ColumnReference.fit(name, train[name], rng) for name in names]
        conditioning = {c.name: Conditioning.fit(c, train, holdout, rng) for c in columns}
        scored = None
        if holdout is not None:
            scored = {}
            for c in columns:
                scores, samples = c.score(holdout[c.name], rng)
                # the holdout's own figures: its medians, and the classifier trained on training texts
                cond = conditioning[c.name].scores(c, holdout, rng)
                cond["classifier_accuracy"] = conditioning[c.name].scores(c, train, rng)["classifier_accuracy"]
                scored[c.name] = (scores.model_copy(update=cond), samples)
        return cls(columns, scored, seed, conditioning)

    def score(self, synthetic: pd.DataFrame) -> dict[str, TextMetrics]:
        """Column → the synthetic table's figures beside the holdout's; same seed, same figures."""
        rng = np.random.default_rng([self.seed, 0x7E47, 1])
        out = {}
        for c in self.columns:
            scores, samples = c.score(synthetic[c.name], rng)
            cond = self.conditioning.get(c.name)
            if cond is not None and set(cond.numeric + cond.categorical) <= set(synthetic.columns):
                scores = scores.model_copy(update=cond.scores(c, synthetic, rng))
            ref, real = self.holdout[c.name] if self.holdout is not None else (None, [])
            out[str(c.name)] = TextMetrics(**scores.model_dump(), reference=ref, samples=samples,
                                           real_samples=real)
        return out
