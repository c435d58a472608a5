"""Keys of generated tables: new unique primary keys, and plain references filled with keys
of the generated referenced table (matched within a shared ancestor when there is one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..encoding.keys import KeyEncoder
from .layout import PlainRef, TableLayout


@dataclass(frozen=True)
class KeyBlocks:
    """Which keys shard ``shard`` of ``shards`` numbers its rows with, so that keys stay
    unique across shards whose tables' sizes are not known in advance (children follow
    from the model). Key numbers are dealt in blocks of ``block``: a shard's rows
    ``r*block .. (r+1)*block`` take block ``r*shards + shard``. One shard (the default)
    numbers its rows 0, 1, 2, ... as an unsharded run does."""

    shard: int = 0
    shards: int = 1
    block: int = 1

    def runs(self, n: int) -> list[tuple[int, int]]:
        """(first key number, rows) of each block the first ``n`` rows take."""
        if self.shards == 1:
            return [(0, n)]
        return [((r * self.shards + self.shard) * self.block, min(self.block, n - r * self.block))
                for r in range(-(-n // self.block))]

    def numbers(self, n: int) -> np.ndarray:
        return np.concatenate([np.arange(s, s + k, dtype=np.int64) for s, k in self.runs(n)] or
                              [np.zeros(0, dtype=np.int64)])

    def keys(self, decode: Callable[[int, int], pd.Series], n: int) -> np.ndarray:
        """``decode(start, k)``'s keys for the blocks the first ``n`` rows take, in order."""
        parts = [decode(s, k).to_numpy() for s, k in self.runs(n) if k]
        return np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else decode(0, 0).to_numpy()


def new_keys(lay: TableLayout, n: int, blocks: KeyBlocks | None = None) -> np.ndarray:
    """``n`` new unique keys in the input's format that never equal a real one (see
    ``KeyEncoder``); model files without the key's format: integers above the largest real
    key, or strings with a ``syn_`` prefix. ``blocks``: this shard's key numbers."""
    blocks = blocks or KeyBlocks()
    if lay.key is not None:
        key = KeyEncoder.from_state(lay.key)
        rng = np.random.default_rng(0)
        return blocks.keys(lambda start, k: key.decode(np.zeros((k, 0), dtype=np.int64), rng, start=start), n)
    if lay.key_is_int:
        return lay.key_start + blocks.numbers(n)
    return np.array([f"syn_{lay.name}_{i}" for i in blocks.numbers(n)], dtype=object)


def ancestors(name: str, layouts: dict[str, TableLayout]) -> list[str]:
    """The table and its context ancestors, nearest first."""
    chain = [name]
    while layouts[chain[-1]].parent is not None:
        chain.append(layouts[chain[-1]].parent)
    return chain


def fill_reference(ref: PlainRef, name: str, layouts: dict[str, TableLayout], n_rows: int,
                   ancestor_rows: dict[str, dict[str, np.ndarray]], ref_keys: np.ndarray,
                   rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    """Keys of table ``ref.references`` for the ``n_rows`` rows of ``name``.

    Rows are matched within their nearest shared context ancestor (a disposition's client
    comes from the account's district); a column that was unique in the input stays unique
    while candidates last; nulls come back at the input's rate. ``ancestor_rows[t][a]``:
    for each generated row of ``t``, the row index of its ancestor ``a``. ``weights``: per
    referenced row, how often it should be referenced (its learned popularity); rows are
    drawn in proportion, rows without weight only when nothing else is left.
    """
    target = ref.references
    mine, theirs = ancestors(name, layouts), ancestors(target, layouts)
    shared = next((a for a in mine[1:] if a in theirs), None)
    out = np.empty(n_rows, dtype=object)
    n_ref = len(ref_keys)
    if n_ref == 0:
        out[:] = None
        return out
    if shared is not None:
        my_group = ancestor_rows[name][shared]
        their_group = ancestor_rows[target][shared]
    else:
        my_group, their_group = np.zeros(n_rows, dtype=np.int64), np.zeros(n_ref, dtype=np.int64)
    if weights is not None:
        w = np.nan_to_num(np.asarray(weights, dtype="float64"), nan=0.0).clip(min=0) + 1e-9
    else:
        w = np.ones(n_ref)

    def choose(pool: np.ndarray, k: int, replace: bool) -> np.ndarray:
        if replace:
            return rng.choice(pool, k, replace=True, p=w[pool] / w[pool].sum())
        # weighted sampling without replacement (Efraimidis-Spirakis): the k largest
        # log(u) / w; O(n log n), where numpy's weighted choice without replacement is not
        order = np.argsort(np.log(rng.random(len(pool))) / w[pool])[::-1]
        return pool[order[:k]]

    cands = pd.Series(np.arange(n_ref)).groupby(their_group).apply(lambda s: s.to_numpy()).to_dict()
    pick = np.full(n_rows, -1, dtype=np.int64)
    for grp, rows in pd.Series(np.arange(n_rows)).groupby(my_group):
        rows = rows.to_numpy()
        pool = cands.get(grp)
        if pool is None or len(pool) == 0:
            continue  # no candidate in the group: drawn from all below
        if ref.unique:  # as many distinct keys as the group has; the rest from elsewhere
            take = min(len(rows), len(pool))
            pick[rows[:take]] = choose(pool, take, replace=False)
        else:
            pick[rows] = choose(pool, len(rows), replace=True)
    left = np.flatnonzero(pick < 0)
    if len(left):
        unused = np.setdiff1d(np.arange(n_ref), pick[pick >= 0]) if ref.unique else np.arange(n_ref)
        take = min(len(left), len(unused)) if ref.unique else 0
        pick[left[:take]] = choose(unused, take, replace=False) if take else pick[left[:take]]
        rest = left[take:]
        pick[rest] = choose(np.arange(n_ref), len(rest), replace=True)
    out[:] = ref_keys[pick]
    if ref.null_share > 0:
        out[rng.random(n_rows) < ref.null_share] = None
    if ref.null_share == 0 and np.issubdtype(ref_keys.dtype, np.integer):
        return out.astype(ref_keys.dtype)
    return out
