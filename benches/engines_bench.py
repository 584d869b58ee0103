"""The monthly HC/HP per meter query of docs/datasets.md timed in each engine, over a Hive
fleet's periods/ and over its records/ (max - min of the indexes: the query readers wrote
before the periods dataset). Prints one line per engine and dataset: seconds (best of
RUNS) and meter-days a second.

Usage: python engines_bench.py FLEET_HIVE METERS DAYS [RUNS]   (benches/dataset.sh runs it)
"""

import sys
import time

root, meters, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
periods, records = f"{root}/periods", f"{root}/records"


def best(f):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        n = f()
        times.append(time.perf_counter() - t)
    assert n > 0, "no result rows"
    return min(times), n


def report(engine, dataset, f):
    try:
        secs, n = best(f)
        print(f"{engine:10} {dataset:8} {secs:8.3f} s  {meters * days / secs:12.0f} meter-days/s  ({n} rows)", flush=True)
    except Exception as e:  # an engine that fails is said, the others go on
        print(f"{engine:10} {dataset:8} failed: {e!r:.200}", flush=True)


def duckdb_run():
    import duckdb
    hive = "hive_partitioning = true, hive_types = {'meter': VARCHAR}"
    report("duckdb", "periods", lambda: len(duckdb.sql(f"""
        SELECT meter, strftime(local_date, '%Y-%m') AS month, sum(hc_wh), sum(hp_wh), sum(total_wh)
        FROM read_parquet('{periods}/*/*/*.parquet', {hive}) GROUP BY ALL""").fetchall()))
    report("duckdb", "records", lambda: len(duckdb.sql(f"""
        SELECT meter, strftime(timezone('Europe/Paris', time), '%Y-%m') AS month,
               max(EASF01) - min(EASF01), max(EASF02) - min(EASF02)
        FROM read_parquet('{records}/*/*/*/*.parquet', union_by_name = true, {hive}) GROUP BY ALL""").fetchall()))


def polars_run():
    import polars as pl
    hive = dict(hive_partitioning=True, hive_schema={"meter": pl.String})
    report("polars", "periods", lambda: pl.scan_parquet(f"{periods}/**/*.parquet", **hive)
           .group_by("meter", pl.col("local_date").dt.strftime("%Y-%m"))
           .agg(pl.col("hc_wh", "hp_wh", "total_wh").sum()).collect().height)
    month = pl.col("time").dt.convert_time_zone("Europe/Paris").dt.strftime("%Y-%m")
    report("polars", "records", lambda: pl.scan_parquet(f"{records}/**/*.parquet", **hive)
           .group_by("meter", month)
           .agg((pl.col("EASF01").max() - pl.col("EASF01").min()),
                (pl.col("EASF02").max() - pl.col("EASF02").min()).alias("hp")).collect().height)


def datafusion_run():
    from datafusion import SessionConfig, SessionContext
    ctx = SessionContext(SessionConfig().set("datafusion.execution.listing_table_ignore_subdirectory", "false"))
    ctx.register_parquet("p", f"{periods}/", table_partition_cols=[("meter", "string")])
    ctx.register_parquet("r", f"{records}/", table_partition_cols=[("meter", "string")])
    report("datafusion", "periods", lambda: ctx.sql("""
        SELECT meter, to_char(local_date, '%Y-%m') AS month, sum(hc_wh), sum(hp_wh), sum(total_wh)
        FROM p GROUP BY 1, 2""").to_arrow_table().num_rows)
    report("datafusion", "records", lambda: ctx.sql("""
        SELECT meter, to_char(time AT TIME ZONE 'Europe/Paris', '%Y-%m') AS month,
               max("EASF01") - min("EASF01"), max("EASF02") - min("EASF02")
        FROM r GROUP BY 1, 2""").to_arrow_table().num_rows)


def chdb_run():
    import chdb
    report("chdb", "periods", lambda: chdb.query(f"""
        SELECT meter, formatDateTime(local_date, '%Y-%m') AS month, sum(hc_wh), sum(hp_wh), sum(total_wh)
        FROM file('{periods}/*/*/*.parquet', Parquet, 'meter String, local_date Date32, hc_wh Nullable(Int64), hp_wh Nullable(Int64), total_wh Nullable(Int64)')
        GROUP BY ALL SETTINGS use_hive_partitioning = 1""", "ArrowTable").num_rows)
    report("chdb", "records", lambda: chdb.query(f"""
        SELECT meter, formatDateTime(toTimeZone(time, 'Europe/Paris'), '%Y-%m') AS month,
               max(EASF01) - min(EASF01), max(EASF02) - min(EASF02)
        FROM file('{records}/*/*/*/*.parquet', Parquet, 'meter String, time DateTime64(6, \\'UTC\\'), EASF01 Nullable(Int64), EASF02 Nullable(Int64)')
        GROUP BY ALL SETTINGS use_hive_partitioning = 1""", "ArrowTable").num_rows)


def pandas_run():
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds
    hive = ds.partitioning(pa.schema([("meter", pa.string())]), flavor="hive")

    def per():
        df = ds.dataset(periods, format="parquet", partitioning=hive).to_table(
            columns=["meter", "local_date", "hc_wh", "hp_wh", "total_wh"]).to_pandas(types_mapper=pd.ArrowDtype)
        month = df["local_date"].astype("datetime64[s]").dt.strftime("%Y-%m")
        return len(df.groupby([df["meter"], month])[["hc_wh", "hp_wh", "total_wh"]].sum(min_count=1))

    def rec():
        df = ds.dataset(records, format="parquet", partitioning=hive).to_table(
            columns=["meter", "time", "EASF01", "EASF02"]).to_pandas()
        month = df["time"].dt.tz_convert("Europe/Paris").dt.strftime("%Y-%m")
        g = df.groupby([df["meter"], month])[["EASF01", "EASF02"]]
        return len(g.max() - g.min())
    report("pandas", "periods", per)
    report("pandas", "records", rec)


def spark_run():
    from pyspark.sql import SparkSession, functions as F
    spark = (SparkSession.builder.master("local[*]").appName("tic-rec-bench")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "Europe/Paris")
             .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    read = spark.read.option("mergeSchema", "true")
    report("pyspark", "periods", lambda: read.parquet(periods)
           .groupBy("meter", F.date_format("local_date", "yyyy-MM"))
           .agg(F.sum("hc_wh"), F.sum("hp_wh"), F.sum("total_wh")).count())
    report("pyspark", "records", lambda: read.parquet(records)
           .groupBy("meter", F.date_format("time", "yyyy-MM"))
           .agg(F.max("EASF01") - F.min("EASF01"), F.max("EASF02") - F.min("EASF02")).count())


for run in [duckdb_run, polars_run, datafusion_run, chdb_run, pandas_run, spark_run]:
    run()
