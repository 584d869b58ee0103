-- Monthly HC/HP from a daily export: tic-rec export --day -o export.parquet
-- Run from the directory holding export.parquet:  duckdb < export_duckdb.sql
SELECT date_trunc('month', period_start AT TIME ZONE 'Europe/Paris') AS month,
       sum(hc_wh) / 1000.0 AS hc_kwh,
       sum(hp_wh) / 1000.0 AS hp_kwh,
       sum(total_wh) AS total_wh,
       min(coverage) AS worst_coverage,
       count(*) FILTER (WHERE flags <> '') AS flagged_days,
       typeof(any_value(period_start)) AS start_type,
       typeof(any_value(hc_wh)) AS wh_type
FROM read_parquet('export.parquet')
GROUP BY ALL
ORDER BY month;
