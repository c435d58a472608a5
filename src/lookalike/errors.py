"""The one exception family lookalike raises at its boundary.

Every message names what is wrong (table, column, value) and how to fix it. The CLI
turns a ``LookalikeError`` into one line and a non-zero exit; the server into JSON.
"""

from __future__ import annotations


class LookalikeError(Exception):
    """Base class of every error lookalike raises on purpose."""


class InputError(LookalikeError):
    """The input data cannot be read or is unusable as given (path, format, shape)."""


class SchemaError(LookalikeError):
    """Column types or overrides are invalid; lists every problem at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = self.problems[0]
        else:
            msg = f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(msg)


class ConfigError(LookalikeError):
    """An option has an invalid value."""


class ModelFileError(LookalikeError):
    """A model file is missing, corrupt, foreign or from an incompatible version."""


class DatabaseError(InputError):
    """A database cannot be reached, read or written; messages never show its password."""
