"""Runs one engine's recipe from docs/datasets.md, as written, and prints its results.

Usage: python engines.py RECIPE.py [RESULT ...]

The recipe is executed as a script in the current directory (which holds `tic-data`,
`fleet` and `fleet-hive`); then each RESULT it defined (a DuckDB relation, a Spark, Polars,
DataFusion or pandas data frame, an Arrow table) is printed as one JSON object per line:
{"name": RESULT, "columns": [...], "types": [...], "rows": [[...], ...]} with dates and
times as ISO text, integers as integers and nulls as null, so that tests/engines.rs can
compare them with `tic-rec export`. Nothing here changes what the recipe computes.
"""

import datetime
import decimal
import json
import math
import sys


def table(value):
    """(columns, rows) of an engine's result."""
    kind = type(value).__module__ + "." + type(value).__name__
    if kind.startswith("duckdb"):
        return list(value.columns), value.fetchall()
    if kind.startswith("pyspark"):
        return list(value.columns), [tuple(r) for r in value.collect()]
    if kind.startswith("polars"):
        if hasattr(value, "collect"):
            value = value.collect()
        return list(value.columns), value.rows()
    if kind.startswith("datafusion"):
        t = value.to_arrow_table()
        return list(t.column_names), [tuple(r.values()) for r in t.to_pylist()]
    if kind.startswith("pyarrow"):
        return list(value.column_names), [tuple(r.values()) for r in value.to_pylist()]
    if kind.startswith("pandas"):
        cols = list(value.columns)
        rows = [tuple(r) for r in value.astype(object).itertuples(index=False, name=None)]
        return cols, rows
    raise TypeError(f"a result of an unknown kind: {kind}")


def plain(v):
    """A JSON value for a cell (NaN and pandas' NA are null)."""
    if v is None:
        return None
    try:
        import pandas

        if v is pandas.NA or v is pandas.NaT:
            return None
    except ImportError:
        pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if hasattr(v, "item"):  # numpy scalars
        return plain(v.item())
    if hasattr(v, "isoformat"):  # pandas Timestamp
        return v.isoformat()
    if isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def main():
    path, names = sys.argv[1], sys.argv[2:]
    with open(path, encoding="utf-8") as f:
        code = f.read()
    scope = {"__name__": "__main__"}
    exec(compile(code, path, "exec"), scope)
    for name in names:
        if name not in scope:
            raise SystemExit(f"the recipe defines no {name}")
        cols, rows = table(scope[name])
        types = [type(c).__name__ for c in rows[0]] if rows else []
        out = {
            "name": name,
            "columns": cols,
            "types": types,
            "rows": [[plain(c) for c in r] for r in rows],
        }
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
