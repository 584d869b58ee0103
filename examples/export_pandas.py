"""Load a tic-rec export in pandas and print HC/HP per local day, in kWh.

    tic-rec export --day -o export.parquet
    pip install pandas pyarrow
    python examples/export_pandas.py export.parquet

`--check` prints instead what the file loads as, in JSON (the rows, each column's dtype,
the Wh sums, each period's length in hours): tests/export_readers.rs uses it to check
that pandas reads our Parquet typed.
"""
import argparse
import json

import pandas as pd

parser = argparse.ArgumentParser(description="HC/HP per local day of a tic-rec Parquet export")
parser.add_argument("file", nargs="?", default="export.parquet", help="the export (default: export.parquet)")
parser.add_argument("--check", action="store_true", help="print the dtypes and sums as JSON instead")
args = parser.parse_args()

df = pd.read_parquet(args.file)

if args.check:
    print(json.dumps({
        "rows": len(df),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
        "hc_wh": int(df["hc_wh"].sum()),
        "hp_wh": int(df["hp_wh"].sum()),
        "total_wh": int(df["total_wh"].sum()),
        "hours": [float(h) for h in (df["period_end"] - df["period_start"]).dt.total_seconds() / 3600],
    }))
else:
    # Periods are UTC instants; the calendar day is the meter's, Europe/Paris.
    days = pd.DataFrame({
        "day": df["period_start"].dt.tz_convert("Europe/Paris").dt.date,
        "hc_kwh": df["hc_wh"] / 1000,
        "hp_kwh": df["hp_wh"] / 1000,
        "total_kwh": df["total_wh"] / 1000,
        "coverage": df["coverage"],
        "flags": df["flags"],
    })
    print(days.to_string(index=False, float_format="{:.3f}".format))
