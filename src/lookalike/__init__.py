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

__all__ = ["train", "load", "Generator", "TrainConfig", "LookalikeError", "__version__"]
