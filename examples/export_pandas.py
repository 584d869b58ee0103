"""Load a tic-rec export in pandas and print HC/HP per day in kWh, local time.

    tic-rec export --day -o export.parquet
    python examples/export_pandas.py export.parquet
"""
import json
import sys

import pandas as pd

df = pd.read_parquet(sys.argv[1] if len(sys.argv) > 1 else "export.parquet")
local = df.assign(day=df["period_start"].dt.tz_convert("Europe/Paris").dt.date)
print(local[["day", "hc_wh", "hp_wh", "total_wh", "coverage", "flags"]].to_string(index=False), file=sys.stderr)
print(json.dumps({
    "rows": len(df),
    "dtypes": {c: str(t) for c, t in df.dtypes.items()},
    "hc_wh": int(df["hc_wh"].sum()),
    "hp_wh": int(df["hp_wh"].sum()),
    "total_wh": int(df["total_wh"].sum()),
    "hours": [float(h) for h in (df["period_end"] - df["period_start"]).dt.total_seconds() / 3600],
}))
