"""Related tables: a subject table with linked (sequential) event tables, and schemas of
several tables joined by foreign keys.

    g = lookalike.train(tables=[
        {"name": "users", "data": users, "primary_key": "id"},
        {"name": "purchases", "data": purchases,
         "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]},
    ])
    out = g.sample(size={"users": 10_000}, seed=1)   # {"users": df, "purchases": df}
"""

from .config import RelationalConfig
from .generator import RelationalGenerator
from .training import train_tables
from .spec import ForeignKey, RelationalError, TableSpec

__all__ = ["train_tables", "RelationalGenerator", "RelationalConfig", "RelationalError", "TableSpec", "ForeignKey"]
