"""lookalike: train a generative model on your table, generate private look-alikes,
prove their quality.

    import lookalike
    g = lookalike.train("customers.csv")
    df = g.sample(10_000, seed=1)
    g.save("customers.lookalike")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from .errors import LookalikeError  # noqa: E402  (light: no torch, no pandas)

if TYPE_CHECKING:  # pragma: no cover
    from .api import load, train
    from .config import TrainConfig
    from .generator import Generator

# torch and pandas load on first use, so `lookalike --help` and `import lookalike` are instant
_LAZY = {"train": "api", "load": "api", "Generator": "generator", "TrainConfig": "config"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lookalike' has no attribute {name!r}")


def report(synthetic, train, holdout=None, target=None, out="report.html", **kwargs):
    """Score a synthetic table against its training table (and an unseen holdout) and
    write the QA report; returns ``Metrics``. See ``lookalike.qa.report``."""
    from .qa import report as _report

    return _report(synthetic, train, holdout=holdout, target=target, out=out, **kwargs)


__all__ = ["train", "load", "report", "Generator", "TrainConfig", "LookalikeError", "__version__"]
