"""lookalike: train a generative model on your table, generate private look-alikes,
prove their quality.

    import lookalike
    g = lookalike.train("customers.csv")
    df = g.sample(10_000, seed=1)
    g.save("customers.lookalike")
"""

__version__ = "0.1.0"

from .api import load, train  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .errors import LookalikeError  # noqa: E402
from .generator import Generator  # noqa: E402


def report(synthetic, train, holdout=None, target=None, out="report.html", **kwargs):
    """Score a synthetic table against its training table (and an unseen holdout) and
    write the QA report; returns ``Metrics``. See ``lookalike.qa.report``."""
    from .qa import report as _report

    return _report(synthetic, train, holdout=holdout, target=target, out=out, **kwargs)

__all__ = ["train", "load", "report", "Generator", "TrainConfig", "LookalikeError", "__version__"]
