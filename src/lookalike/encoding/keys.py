"""Key columns: regenerated as new unique values in the input's format, never a real key.

A synthetic row must not carry a real person's id, so a generated key never equals a
training key, by construction rather than by chance. The model file holds the key's
format and a starting point, never a real key nor a hash of one.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import re
import string
import uuid
from collections import Counter

import numpy as np
import pandas as pd

from .base import ColumnEncoder, restore_dtype

log = logging.getLogger(__name__)

DIGITS = string.digits
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAX_ENUMERATED = 100_000  # prefixes listed in full up to this many; drawn at random beyond
_PREFIX_TRIES = 500
MIN_KEYS_FOR_LITERAL = 10  # a character shared by fewer keys may be part of a person's id, not the format


class KeyEncoder(ColumnEncoder):
    """Unique identifiers: the ``i``-th generated key is a function of ``i`` alone, so
    batches (``start``) and streamed outputs stay unique, and the same model gives the
    same keys. Learned state, by ``style_``:

    - ``"int"`` (numeric keys): ``start_``, ``step_``: counting up from a random point a
      little above the largest real key (down from below the smallest when the dtype's
      range would run out above);
    - ``"pattern"`` (strings): ``shape_``, per position a literal character or the
      alphabet seen there (``C00042``: ``["C", "0123456789", ...]``); ``prefix_``, a start no
      real key begins with, or ``""``; ``start_``, the counter's first value. Key ``i`` is
      ``prefix_`` + ``start_ + i`` written in the positions after the prefix (longer once
      they run out). Counters made only of digits count on from above the largest real
      one (``C00501``, ...); letters get a fresh prefix instead, since counting on from
      the largest real key would spell most of it;
    - ``"uuid"``: ``salt_``, a random value the new UUIDs are derived from;
    - ``"serial"`` (no usable shape): ``lk-`` and a counter, longer than every real key.
    """

    kind = "key"

    def fit(self, s: pd.Series, rng: np.random.Generator, protect: bool) -> KeyEncoder:
        self.numeric_ = bool(pd.api.types.is_numeric_dtype(s))
        rng = rng.spawn(1)[0]  # its own stream: the other columns' draws stay as they were
        nn = s.dropna()
        if self.numeric_:
            self.style_ = "int"
            self.start_, self.step_ = _int_start(nn, self.dtype, rng)
            return self
        keys = [str(k) for k in nn.tolist()]
        if keys and all(_UUID.match(k) for k in keys):
            self.style_ = "uuid"
            self.upper_ = any(c.isupper() for c in keys[0])
            self.salt_ = f"{int(rng.integers(2**62)):016x}"
            return self
        found = _pattern(keys, rng)
        if found is None:
            self.style_ = "serial"
            self.width_ = max(9, max((len(k) for k in keys), default=0) - 2)  # "lk-" + width > any real key
        else:
            self.style_ = "pattern"
            self.shape_, self.prefix_, self.start_ = found
        return self

    def fit_dp(self, s: pd.Series, rng: np.random.Generator, dp) -> KeyEncoder:
        """Under differential privacy new keys may not depend on the real ones: UUIDs for
        string keys; numbers count up from a random point far above usual ids."""
        self.numeric_ = bool(pd.api.types.is_numeric_dtype(s))
        rng = rng.spawn(1)[0]
        if self.numeric_:
            base = self.dtype.lower()
            top = int(np.iinfo(base).max) if base.startswith(("int", "uint")) else 2**53
            self.style_, self.start_, self.step_ = "int", int(rng.integers(top // 4, top // 2)), 1
        else:
            self.style_, self.upper_ = "uuid", False
            self.salt_ = f"{int(rng.integers(2**62)):016x}"
        self.dp_marginals = []
        return self

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, start: int = 0) -> pd.Series:
        n = len(tokens)
        style = getattr(self, "style_", None)
        if style is None:
            return self._decode_old(n, start)
        if style == "int":
            vals = pd.Series(self.start_ + self.step_ * np.arange(start, start + n, dtype="int64"), name=self.name)
            return restore_dtype(vals, self.dtype) if _fits(vals, self.dtype) else vals
        if style == "pattern":
            rest = self.shape_[len(self.prefix_):]
            keys = [self.prefix_ + _format(self.start_ + i, rest) for i in range(start, start + n)]
        elif style == "uuid":
            keys = [_uuid(self.salt_, i, self.upper_) for i in range(start, start + n)]
        else:
            keys = [f"lk-{i + 1:0{self.width_}d}" for i in range(start, start + n)]
        return self._strings(keys)

    def _strings(self, keys: list[str]) -> pd.Series:
        return pd.Series(keys, name=self.name, dtype=self.dtype if self.dtype != "object" else None)

    def _decode_old(self, n: int, start: int) -> pd.Series:
        """Model files from before keys kept apart from the real ones: numbered 1..n as then."""
        if not getattr(self, "_warned", False):
            log.warning("column '%s': this model file numbers keys 1..n, which may equal real keys; "
                        "train again for keys that never do", self.name)
            self._warned = True
        idx = np.arange(start, start + n)
        if self.numeric_:
            return restore_dtype(pd.Series(idx + 1, name=self.name), self.dtype)
        return self._strings([f"lk-{i + 1:09d}" for i in idx])


def _int_start(nn: pd.Series, dtype: str, rng: np.random.Generator) -> tuple[int, int]:
    """First key and step: above the largest real key by a random gap (so the file does not
    give the maximum away), or below the smallest when the dtype has no room above."""
    if nn.empty:
        return 1, 1
    base = dtype.lower()
    if base.startswith(("int", "uint")):
        hi, lo = int(nn.max()), int(nn.min())  # exact: floats lose the last digits of long ids
    else:
        vals = pd.to_numeric(nn).to_numpy(dtype="float64")
        hi, lo = math.floor(vals.max()), math.ceil(vals.min())
    gap = int(rng.integers(1, max(2, len(nn) // 10 + 2)))
    if base.startswith(("int", "uint")):
        info = np.iinfo(base)
        room = 2 * len(nn) + 1_000  # more keys than the input had must fit too
        if hi + gap + room > info.max and lo - gap - room >= info.min:
            return int(lo - gap), -1
    return int(hi + gap), 1


def _fits(vals: pd.Series, dtype: str) -> bool:
    """Whether the keys fit the input's integer dtype (a cast would wrap them around)."""
    base = dtype.lower()
    if not base.startswith(("int", "uint")) or vals.empty:
        return True
    info = np.iinfo(base)
    return info.min <= int(vals.min()) and int(vals.max()) <= info.max


# --- string keys -------------------------------------------------------------------------
def _alphabet(chars: set[str], lower: str, upper: str) -> str:
    """The characters a position may take: the classes seen there, plus other symbols seen."""
    out = ""
    if chars & set(DIGITS):
        out += DIGITS
    if chars & set(string.ascii_lowercase):
        out += lower
    if chars & set(string.ascii_uppercase):
        out += upper
    return out + "".join(sorted(chars - set(string.ascii_letters + DIGITS)))


def _letters(chars: set[str], alphabet: str) -> str:
    """The letters a position may take: only a-f where the keys look hexadecimal."""
    seen = chars & set(alphabet)
    return alphabet[:6] if len(seen) >= 3 and seen <= set(alphabet[:6]) else alphabet


def _shape(keys: list[str]) -> list[str] | None:
    """Per position of the most common key length, a literal character (constant letters,
    symbols and constant runs of digits, among enough keys) or the alphabet it varies over."""
    if not keys:
        return None
    lengths = Counter(len(k) for k in keys)
    width = max(lengths, key=lambda n: (lengths[n], n))
    if width == 0:
        return None
    group = [k for k in keys if len(k) == width]
    if len(group) < 2:  # one key's shape would be that key's, not the column's
        return None
    chars = set("".join(group))
    lower, upper = (_letters(chars, alphabet) for alphabet in (string.ascii_lowercase, string.ascii_uppercase))
    seen = [set(col) for col in zip(*group)]
    shape = [_alphabet(c, lower, upper) for c in seen]
    literal = len(group) >= MIN_KEYS_FOR_LITERAL
    i = 0
    while i < width:  # a run of digits stays literal only when all of it is constant (a year, a code)
        j = i
        while j < width and shape[j] == DIGITS:
            j += 1
        if j > i:
            if literal and all(len(seen[k]) == 1 for k in range(i, j)):
                for k in range(i, j):
                    shape[k] = next(iter(seen[k]))
            i = j
        else:
            if literal and len(seen[i]) == 1:
                shape[i] = next(iter(seen[i]))
            i += 1
    return shape


def _pattern(keys: list[str], rng: np.random.Generator) -> tuple[list[str], str, int] | None:
    """``(shape, prefix, start)`` such that no generated key equals a real one, or None."""
    shape = _shape(keys)
    if shape is None or not any(len(a) > 1 for a in shape):
        return None
    variable = [a for a in shape if len(a) > 1]
    if all(a == DIGITS for a in variable):  # a counter: count on from above the largest real one
        parsed = [v for v in (_parse(k, shape) for k in keys) if v is not None]
        start = (max(parsed) + 1 if parsed else 0) + int(rng.integers(0, max(1, len(keys) // 10 + 1)))
        room = 10 ** len(variable) - start  # keys left before the counter gains a digit
        if room >= len(keys):
            return shape, "", start
        prefix = _free_prefix(shape, keys, rng)  # full near the top: a fresh prefix may keep the length longer
        if prefix is not None and 10 ** sum(len(a) > 1 for a in shape[len(prefix):]) > room:
            return shape, prefix, 0
        return shape, "", start
    prefix = _free_prefix(shape, keys, rng)
    return None if prefix is None else (shape, prefix, 0)


def _free_prefix(shape: list[str], keys: list[str], rng: np.random.Generator) -> str | None:
    """The shortest start that fits the shape, that no real key begins with, and that leaves
    at least one varying position for the counter; drawn at random among such starts."""
    var = [i for i, a in enumerate(shape) if len(a) > 1]
    for k in range(1, len(var)):
        end = var[k - 1] + 1
        used = {key[:end] for key in keys if len(key) >= end}
        alphabets = [shape[i] for i in var[:k]]

        def build(choice: tuple[str, ...]) -> str:
            chars = list(shape[:end])
            for pos, c in zip(var[:k], choice):
                chars[pos] = c
            return "".join(chars)

        if math.prod(len(a) for a in alphabets) <= _MAX_ENUMERATED:
            free = [p for p in map(build, itertools.product(*alphabets)) if p not in used]
            if free:
                return free[int(rng.integers(len(free)))]
            continue
        for _ in range(_PREFIX_TRIES):
            p = build(tuple(a[int(rng.integers(len(a)))] for a in alphabets))
            if p not in used:
                return p
    return None


def _top(rest: list[str]) -> int:
    """The first varying position: it takes more characters once the others run out."""
    return next(i for i, a in enumerate(rest) if len(a) > 1)


def _format(v: int, rest: list[str]) -> str:
    """``v`` written in the positions ``rest`` (mixed radix, literals kept); beyond their
    capacity the first varying position widens, as a number gains digits."""
    top = _top(rest)
    out = []
    for a in reversed(rest[top + 1:]):
        v, d = divmod(v, len(a))
        out.append(a[d])
    a = rest[top]
    while True:
        v, d = divmod(v, len(a))
        out.append(a[d])
        if v == 0:
            break
    out.extend(reversed(rest[:top]))
    return "".join(reversed(out))


def _parse(key: str, rest: list[str]) -> int | None:
    """The ``v`` with ``_format(v, rest) == key``, or None when no ``v`` gives ``key``."""
    top = _top(rest)
    extra = len(key) - len(rest)
    if extra < 0 or key[:top] != "".join(rest[:top]):
        return None
    head, tail = key[top: top + 1 + extra], key[top + 1 + extra:]
    a = rest[top]
    if extra and head[0] == a[0]:
        return None  # a widened position never starts with its zero
    v = 0
    for c, alphabet in zip(head + tail, [a] * len(head) + rest[top + 1:]):
        d = alphabet.find(c)
        if d < 0:
            return None
        v = v * len(alphabet) + d
    return v


def _uuid(salt: str, i: int, upper: bool) -> str:
    """A version-4 UUID derived from the model's random salt and the key's position."""
    b = bytearray(hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=16).digest())
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    s = str(uuid.UUID(bytes=bytes(b)))
    return s.upper() if upper else s
