"""The privacy attack suite: what an attacker holding the synthetic table learns about the
people in the training data, beyond what it learns about anyone from the same population.

Every attack is run twice on the same budget: against training rows (people the model
saw) and against as many *control* rows, held-out real rows the model never saw. What
the attack achieves on the control is general knowledge about the population, not a
leak; the risk is the excess, ``(attack - control) / (1 - control)`` clipped at 0, with a
95% interval (``risk.py``).

- **Singling out**: from a synthetic row, the attacker writes a predicate (``age == 37 and
  occupation == 'Sales' and hours >= 70``) that isolates that one row among the synthetic
  rows, and claims it isolates one real person. Success: it matches exactly one training
  row (attack) / exactly one of as many control rows (control). One-column predicates on
  the synthetic data's rare values and extremes are scored on their own.
- **Linkability**: the attacker holds two halves of a person's record (disjoint column
  sets A and B) from different sources. Success: the nearest synthetic rows on A and on
  B are the same row, re-joining the halves through the synthetic data.
- **Attribute inference**: the attacker knows every column of a person but one, the
  secret, and guesses it from the nearest synthetic row. Success: an exact match for
  categories, within 5 percentiles of the truth for numbers and dates.
- **Membership inference**: each training and each held-out row is scored by its distance
  to the nearest synthetic row; the AUC says how well that tells members from the rest.

Distances use the report's scale-free encoding (``qa.privacy.Encoder``: quantile ranks,
one-hot categories, null flags). Every draw comes from a generator seeded by ``seed``;
targets are sampled to a fixed number of attempts, so the time is bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..qa.columns import Column, as_float, as_text, check_columns, codes_of
from ..qa.privacy import Encoder
from .risk import (
    AttackRisk,
    Attacks,
    ColumnInference,
    InferenceRisk,
    LinkabilityRisk,
    membership_risk,
    worst,
)

log = logging.getLogger(__name__)

ATTEMPTS = 2_000  # targets per attack and side: rates to about +-2 points
MAX_POPULATION = 200_000  # rows per side among which singling-out predicates are counted
MAX_REFERENCE = 50_000  # synthetic rows searched by the distance-based attacks
MAX_SECRETS = 20  # attribute inference: columns tried as the secret
MIN_ROWS = 20  # fewer training, held-out or synthetic rows: the suite is skipped
NUMERIC_TOLERANCE = 0.05  # an inferred number is right within this share of the training order
NEIGHBOURS = 1  # linkability: k nearest synthetic rows per half
_CHUNK = 256  # query rows per block of distances (256 x 50,000 float64 = 100 MB)


def skip_reason(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame | None) -> str | None:
    """Why the suite cannot run on these tables, or None when it can."""
    if holdout is None:
        return ("No holdout given: the privacy attacks are skipped, because they need real rows the model never "
                "saw as the control; pass holdout=... (CLI: --holdout).")
    small = [f"{name} has {len(df)}" for name, df in (("training", train), ("holdout", holdout),
                                                       ("synthetic", synthetic)) if len(df) < MIN_ROWS]
    if small:
        return (f"Privacy attacks skipped: {', '.join(small)} row(s); each table needs at least {MIN_ROWS} "
                "rows for the attack and control rates to mean anything.")
    return None


def run_attacks(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    columns: list[Column] | None = None,
    *,
    target: str | None = None,
    seed: int = 0,
    attempts: int = ATTEMPTS,
    encoder: Encoder | None = None,
) -> Attacks:
    """Run the four attacks on ``synthetic`` against ``train``, with ``holdout`` rows as the control.

    ``target`` makes attribute inference guess that column only (otherwise every
    informative column, up to ``MAX_SECRETS``, is the secret in turn). ``attempts`` is the
    number of targets per attack and side. Same seed, same figures.
    """
    from ..qa.columns import infer_columns

    columns = columns if columns is not None else infer_columns(train)
    for name, df in (("synthetic", synthetic), ("holdout", holdout)):
        check_columns(train, df, name)
    names = [c.name for c in columns]
    if target is not None and target not in names:
        raise InputError(f"target '{target}': not a column of the training table; pass one of {names}")
    if attempts < 1:
        raise InputError(f"attempts={attempts}: pass a positive number of targets per attack")
    reason = skip_reason(synthetic, train, holdout)
    if reason is not None:
        raise InputError(reason)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    encoder = encoder if encoder is not None else Encoder(columns).fit(train)

    m, singling_out, singling_out_uni = _singling_out(synthetic, train, holdout, columns, attempts, rng)
    if singling_out is None:
        notes.append("Singling out: no synthetic row could be isolated (every row has a duplicate); omitted.")
    if m < len(train):
        notes.append(f"Singling out counts matches among {m:,} of the {len(train):,} training rows (as many as the "
                     "control has): a rule that fits a copied training row scores only when that row is among them, "
                     f"so this attack can read up to {1 - m / len(train):.0%} low; membership inference has no such "
                     "limit.")

    # the distance-based attacks: one pass over equally many training and control rows
    n = min(attempts, len(train), len(holdout))
    targets, controls = _sample(train, n, rng), _sample(holdout, n, rng)
    reference = synthetic.iloc[rng.permutation(len(synthetic))[:MAX_REFERENCE]]  # random order breaks ties
    order = [columns[j] for j in rng.permutation(len(columns))]
    half = len(order) // 2
    split = (order[:half], order[half:]) if len(order) >= 2 else None
    if split is None:
        notes.append("Linkability needs two columns or more; omitted.")
    secrets = [c for c in columns if c.name == target] if target else _informative(train, columns)
    if len(secrets) > MAX_SECRETS:
        secrets = [secrets[j] for j in np.sort(rng.choice(len(secrets), MAX_SECRETS, replace=False))]
        notes.append(f"Attribute inference tried {MAX_SECRETS} of the columns as the secret (a random choice).")
    if len(columns) < 2:
        secrets = []
        notes.append("Attribute inference needs two columns or more; omitted.")
    search = _Search(encoder, columns, reference, split, secrets, rng)
    hits = [search.run(df) for df in (targets, controls)]

    linkability = None
    if split is not None:
        linkability = LinkabilityRisk.from_counts(
            int(hits[0].linked.sum()), int(hits[1].linked.sum()), n,
            columns_a=[c.name for c in split[0]], columns_b=[c.name for c in split[1]], neighbours=NEIGHBOURS)
    inference = None
    if secrets:
        inference = _inference([
            ColumnInference.from_counts(int(hits[0].guessed[c.name].sum()), int(hits[1].guessed[c.name].sum()), n,
                                        column=c.name)
            for c in secrets
        ])
    membership = membership_risk(_auc(hits[0].distance, hits[1].distance), n, n)
    results = (singling_out, singling_out_uni, linkability, inference, membership)
    verdicts = [r.verdict for r in results if r is not None]
    return Attacks(population=m, singling_out=singling_out, singling_out_univariate=singling_out_uni,
                   linkability=linkability, inference=inference, membership=membership, verdict=worst(verdicts),
                   notes=notes)


def _inference(per_column: list[ColumnInference]) -> InferenceRisk:
    per_column = sorted(per_column, key=lambda r: (-r.risk, r.column))
    attempts = sum(r.attempts for r in per_column)
    pooled = AttackRisk.from_counts(int(round(sum(r.attack_rate * r.attempts for r in per_column))),
                                    int(round(sum(r.control_rate * r.attempts for r in per_column))), attempts)
    verdict = "high" if any(r.verdict == "high" for r in per_column) else pooled.verdict
    return InferenceRisk(pooled=pooled, columns=per_column, max_risk=per_column[0].risk,
                         mean_risk=float(np.mean([r.risk for r in per_column])), worst_column=per_column[0].column,
                         verdict=verdict)


def _sample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return df.iloc[rng.permutation(len(df))[:n]] if len(df) > n else df


def _informative(train: pd.DataFrame, columns: list[Column]) -> list[Column]:
    """Columns worth guessing: more than one distinct value (nulls count as one)."""
    return [c for c in columns if train[c.name].nunique(dropna=False) > 1]


# --- singling out -------------------------------------------------------------------------

def _singling_out(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, columns: list[Column],
                  attempts: int, rng: np.random.Generator) -> tuple[int, AttackRisk | None, AttackRisk | None]:
    """Rows per side, multivariate and one-column singling out. Predicates are counted
    among equally many training and control rows, so "exactly one" means the same on both."""
    m = min(len(train), len(holdout), MAX_POPULATION)
    population = _Values.of([_sample(train, m, rng), _sample(holdout, m, rng)], columns)
    predicates = _Predicates(_sample(synthetic, MAX_POPULATION, rng), columns, population.codes)
    multi = predicates.multivariate(min(attempts, predicates.rows), rng)
    uni = predicates.univariate(attempts, rng)
    return (m, _score_predicates(multi, population) if multi else None,
            _score_predicates(uni, population) if uni else None)


@dataclass
class _Values:
    """Tables as comparable arrays: category codes over one shared vocabulary (-1 null),
    numbers and dates as floats (NaN null)."""

    tables: list[list[np.ndarray]]  # per table, per column
    codes: dict[str, list[str]]  # categorical column → vocabulary

    @classmethod
    def of(cls, frames: list[pd.DataFrame], columns: list[Column],
           codes: dict[str, list[str]] | None = None) -> _Values:
        if codes is None:
            codes = {
                c.name: sorted(set().union(*(as_text(df[c.name]).dropna().unique().tolist() for df in frames)))
                for c in columns if c.kind == "categorical"
            }
        tables = []
        for df in frames:
            cols = []
            for c in columns:
                if c.kind == "categorical":
                    cols.append(codes_of(as_text(df[c.name]), codes[c.name]).astype(np.float64))
                else:
                    cols.append(as_float(df[c.name], c.kind))
            tables.append(cols)
        return cls(tables, codes)


# a condition on one column: (column index, op, value); op is "eq", "le", "ge" or "null"
Condition = tuple[int, str, float]


def _holds(x: np.ndarray, op: str, value: float) -> np.ndarray:
    if op == "eq":
        return x == value
    if op == "le":
        return x <= value
    if op == "ge":
        return x >= value
    return np.isnan(x)


def _count(predicate: list[Condition], table: list[np.ndarray], stop: int = 2) -> int:
    """How many rows satisfy every condition, counting no further than ``stop``."""
    rows = None
    for j, op, value in predicate:
        x = table[j] if rows is None else table[j][rows]
        keep = _holds(x, op, value)
        rows = np.flatnonzero(keep) if rows is None else rows[keep]
        if len(rows) == 0:
            return 0
    return min(len(rows), stop) if rows is not None else stop


class _Predicates:
    """Predicates an attacker can write from the synthetic rows alone."""

    def __init__(self, synthetic: pd.DataFrame, columns: list[Column], codes: dict[str, list[str]]):
        # unseen synthetic categories get codes of their own, past the shared vocabulary
        extra = {c.name: sorted(set(as_text(synthetic[c.name]).dropna().unique()) - set(codes[c.name]))
                 for c in columns if c.kind == "categorical"}
        self.columns = columns
        self.values = _Values.of([synthetic], columns, {k: v + extra[k] for k, v in codes.items()}).tables[0]
        self.rows = len(synthetic)
        self.categorical = [c.kind == "categorical" for c in columns]
        self.sorted = [np.sort(x[~np.isnan(x)]) if not cat else None for x, cat in zip(self.values, self.categorical)]
        self.discrete = [cat or _mostly_repeated(s) for s, cat in zip(self.sorted, self.categorical)]

    def condition(self, j: int, value: float) -> Condition:
        """The condition an attacker takes from a synthetic row's value in column ``j``."""
        if self.categorical[j]:
            return (j, "eq", value)  # null is code -1, equal like any value
        if np.isnan(value):
            return (j, "null", np.nan)
        if self.discrete[j]:
            return (j, "eq", value)
        s = self.sorted[j]  # a continuous value: a bound towards its nearer tail
        below, above = np.searchsorted(s, value, "right"), len(s) - np.searchsorted(s, value, "left")
        return (j, "le", value) if below <= above else (j, "ge", value)

    def multivariate(self, n: int, rng: np.random.Generator) -> list[list[Condition]]:
        """Up to ``n`` predicates, each grown from one synthetic row (columns in random
        order, a condition kept only when it narrows the match) until that row is the only
        synthetic row it matches. Rows that have a duplicate cannot be isolated: skipped."""
        out = []
        for i in rng.choice(self.rows, n, replace=False):
            rows = np.arange(self.rows)
            predicate: list[Condition] = []
            for j in rng.permutation(len(self.columns)):
                cond = self.condition(j, self.values[j][i])
                keep = _holds(self.values[j][rows], cond[1], cond[2])
                if keep.all():
                    continue
                rows, predicate = rows[keep], predicate + [cond]
                if len(rows) == 1:
                    out.append(predicate)
                    break
        return out

    def univariate(self, n: int, rng: np.random.Generator) -> list[list[Condition]]:
        """Up to ``n`` one-column predicates matching one synthetic row: a value held by a
        single synthetic row (categories, and numbers of columns whose values repeat), the
        smallest and the largest number when no other row shares it."""
        found: list[list[Condition]] = []
        for j, x in enumerate(self.values):
            if self.discrete[j]:
                vals, counts = np.unique(x, return_counts=True, equal_nan=True)
                found += [[self.condition(j, v)] for v in vals[counts == 1]]
            if not self.categorical[j] and len(self.sorted[j]):
                s = self.sorted[j]
                if len(s) == 1 or s[0] < s[1]:
                    found.append([(j, "le", s[0])])
                if len(s) == 1 or s[-1] > s[-2]:
                    found.append([(j, "ge", s[-1])])
        unique = list({tuple(p[0][:2]) + (repr(p[0][2]),): p for p in found}.values())  # no twice the same
        if len(unique) > n:
            unique = [unique[k] for k in np.sort(rng.choice(len(unique), n, replace=False))]
        return unique


def _mostly_repeated(values: np.ndarray) -> bool:
    """A numeric column an attacker treats as discrete: most of its values repeat."""
    if len(values) == 0:
        return True
    _, counts = np.unique(values, return_counts=True)
    return bool((counts == 1).sum() < 0.5 * len(values))


def _score_predicates(predicates: list[list[Condition]], population: _Values) -> AttackRisk:
    train, control = population.tables
    hits = [sum(_count(p, table) == 1 for p in predicates) for table in (train, control)]
    return AttackRisk.from_counts(int(hits[0]), int(hits[1]), len(predicates))


# --- linkability, attribute and membership inference: nearest synthetic rows --------------

@dataclass
class _Hits:
    """Per query row: linked through the synthetic rows, secret guessed, nearest distance."""

    linked: np.ndarray
    guessed: dict[str, np.ndarray]
    distance: np.ndarray


class _Search:
    """Nearest synthetic rows of query rows, on column subsets, in blocks of queries.

    Squared distances add up over columns, so the distance without the secret column is
    the full distance minus that column's part: one product per half and block serves
    every attack.
    A category's part is 0 or 1 (same or other value); a number's is its squared rank gap
    plus 1 when exactly one of the two is null.
    """

    def __init__(self, encoder: Encoder, columns: list[Column], reference: pd.DataFrame,
                 split: tuple[list[Column], list[Column]] | None, secrets: list[Column], rng: np.random.Generator):
        self.encoder, self.secrets = encoder, secrets
        slices = _slices(encoder, columns)
        position = {c.name: j for j, c in enumerate(columns)}
        self.secret_slices = [slices[position[c.name]] for c in secrets]
        self.ref = encoder.transform(reference)  # (synthetic, features); rows in random order
        self.ref_text = {c.name: _text(reference[c.name]) for c in secrets if c.kind == "categorical"}
        self.ref_parts = [_parts(self.ref, c, s) for c, s in zip(secrets, self.secret_slices)]
        self.halves = None
        if split is not None:
            self.halves = [np.concatenate([np.arange(slices[position[c.name]].start, slices[position[c.name]].stop)
                                           for c in part]) for part in split]
            self.refs = [_augmented(self.ref[:, h]) for h in self.halves]
            # half A breaks ties in the (random) row order, half B in an order of its own,
            # so that ties never link by construction
            self.order_b = rng.permutation(len(self.ref))
            self.ref_b_shuffled = self.refs[1][self.order_b]
        else:
            self.refs = [_augmented(self.ref)]

    def run(self, queries: pd.DataFrame) -> _Hits:
        q_all = self.encoder.transform(queries)
        n = len(queries)
        linked = np.zeros(n, dtype=bool)
        distance = np.zeros(n)
        guess = {c.name: np.zeros(n, dtype=np.int64) for c in self.secrets}
        q_parts = [_parts(q_all, c, s) for c, s in zip(self.secrets, self.secret_slices)]
        tmp = np.empty((min(_CHUNK, n), len(self.ref)))
        for start in range(0, n, _CHUNK):
            q = q_all[start : start + _CHUNK]
            part = slice(start, start + len(q))
            work = tmp[: len(q)]
            # squared distances less the query's own squared norm, which no ranking needs
            if self.halves is not None:
                q_a, q_b = (_with_ones(q[:, h]) for h in self.halves)
                d_a = q_a @ self.refs[0].T
                linked[part] = _share_neighbour(d_a, q_b @ self.ref_b_shuffled.T, self.order_b, NEIGHBOURS)
                full = np.add(d_a, q_b @ self.refs[1].T, out=d_a)
            else:
                full = _with_ones(q) @ self.refs[0].T
            nearest = full.argmin(axis=1)
            distance[part] = np.round(np.sqrt(((q - self.ref[nearest]) ** 2).sum(1)), 9)
            for c, qp, rp in zip(self.secrets, q_parts, self.ref_parts):
                if c.kind == "categorical":
                    # full - (1 - same) ranks like full + same
                    np.add(full, np.equal.outer(qp[part], rp), out=work)
                else:
                    (rank_q, null_q), (rank_r, null_r) = qp, rp
                    np.subtract.outer(rank_q[part], rank_r, out=work)
                    np.square(work, out=work)
                    np.subtract(full, work, out=work)
                    if null_q[part].any() or null_r.any():
                        work -= np.not_equal.outer(null_q[part], null_r)
                guess[c.name][part] = work.argmin(axis=1)
        guessed = {c.name: self._right(c, s, queries, q_all, guess[c.name])
                   for c, s in zip(self.secrets, self.secret_slices)}
        return _Hits(linked, guessed, distance)

    def _right(self, c: Column, s: slice, queries: pd.DataFrame, q: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Whether each guess (a synthetic row's value) is the query's true secret."""
        if c.kind == "categorical":
            return _text(queries[c.name]) == self.ref_text[c.name][idx]  # None == None: null guessed as null
        rank_q, null_q = q[:, s.start], q[:, s.start + 1]
        rank_r, null_r = self.ref[idx, s.start], self.ref[idx, s.start + 1]
        close = np.abs(rank_q - rank_r) <= NUMERIC_TOLERANCE + 1e-12
        return (null_q == null_r) & ((null_q == 1) | close)


def _parts(encoded: np.ndarray, c: Column, s: slice):
    """A column's own part of the encoding: category codes, or (rank, null flag)."""
    if c.kind == "categorical":
        return encoded[:, s].argmax(axis=1)  # one-hot: rare values share one code, as in the distance
    return encoded[:, s.start].copy(), encoded[:, s.start + 1] > 0


def _slices(encoder: Encoder, columns: list[Column]) -> list[slice]:
    """Where each column's features sit in ``Encoder.transform``'s output."""
    out, start = [], 0
    for c in columns:
        width = len(encoder.categories_[c.name]) + 2 if c.kind == "categorical" else 2
        out.append(slice(start, start + width))
        start += width
    return out


def _text(s: pd.Series) -> np.ndarray:
    t = as_text(s)
    return t.astype(object).where(t.notna(), None).to_numpy(dtype=object)


def _augmented(r: np.ndarray) -> np.ndarray:
    """Reference rows as ``[-2 r, |r|^2]``: times ``[q, 1]`` that is ``|q - r|^2 - |q|^2``."""
    return np.column_stack([-2.0 * r, (r * r).sum(1)])


def _with_ones(q: np.ndarray) -> np.ndarray:
    return np.column_stack([q, np.ones(len(q))])


def _share_neighbour(d_a: np.ndarray, d_b_shuffled: np.ndarray, order_b: np.ndarray, k: int) -> np.ndarray:
    """Whether the k nearest references on half A and on half B share a row (half B's
    distances come with the references in ``order_b``)."""
    def top(d: np.ndarray) -> np.ndarray:
        return d.argmin(axis=1)[:, None] if k == 1 else np.argpartition(d, k - 1, axis=1)[:, :k]

    on_a, on_b = top(d_a), order_b[top(d_b_shuffled)]
    return (on_a[:, :, None] == on_b[:, None, :]).any(axis=(1, 2))


def _auc(members: np.ndarray, others: np.ndarray) -> float:
    """P(a member is closer to the synthetic rows than a non-member); ties count half."""
    scores = pd.Series(np.concatenate([-members, -others])).rank(method="average").to_numpy()
    n1, n2 = len(members), len(others)
    return float((scores[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n2))
