"""Import the heavy, optional QA dependencies (LightGBM, scikit-learn, plotly) on demand."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import LookalikeError


def require(module: str) -> ModuleType:
    """Import ``module`` or raise a ``LookalikeError`` saying how to install the QA extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise LookalikeError(
            f"the QA report needs '{module.split('.')[0]}', which is not installed; "
            "run: pip install 'lookalike[qa]'"
        ) from None
