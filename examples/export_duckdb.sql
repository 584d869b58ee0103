-- HC/HP per month, in kWh, from a daily export:
--   tic-rec export --day -o export.parquet
-- Run it where export.parquet is, with the DuckDB Python module (pip install duckdb):
--   python -c 'import duckdb; duckdb.sql(open("examples/export_duckdb.sql").read()).show()'
-- or with the DuckDB command line (https://duckdb.org/docs/installation):
--   duckdb < examples/export_duckdb.sql
SELECT date_trunc('month', period_start AT TIME ZONE 'Europe/Paris') AS month,
       sum(hc_wh) / 1000.0 AS hc_kwh,
       sum(hp_wh) / 1000.0 AS hp_kwh,
       sum(total_wh) / 1000.0 AS total_kwh,
       min(coverage) AS worst_coverage,
       count(*) FILTER (WHERE flags <> '') AS flagged_days
FROM read_parquet('export.parquet')
GROUP BY ALL
ORDER BY month;
