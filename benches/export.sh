#!/usr/bin/env bash
# Export benchmark: tic-rec export --month/--day (scan and --fast) against DuckDB computing the
# same per-period EAST/HC/HP deltas from the same daily files, in one run.
#   benches/export.sh [DAYS]   (default 365: 31.5 M rows, several GB under target/bench-export)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-365}
dir=target/bench-export/$days
py=${TIC_REC_PYTHON:-target/py-venv/bin/python}
cargo build --release --quiet --bin tic-rec --example gen_year
[ -d "$dir" ] || target/release/examples/gen_year "$dir" "$days"
echo "data: $days days, $(du -sh "$dir" | cut -f1), $(cat "$dir"/*/*/*.csv | wc -l) lines"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
for p in month day; do
    fast=$(t target/release/tic-rec export --$p --fast --format csv --data-dir "$dir")
    scan=$(t target/release/tic-rec export --$p --format csv --data-dir "$dir")
    trunc=$p
    duck=$(t "$py" -c "
import duckdb
duckdb.sql('''
SELECT date_trunc('$trunc', time AT TIME ZONE 'Europe/Paris') AS p,
       max(EAST) - min(EAST) AS east_wh, max(EASF01) - min(EASF01) AS hc_wh, max(EASF02) - min(EASF02) AS hp_wh
FROM read_csv('$dir/*/*/*.csv', types={'time':'TIMESTAMPTZ'}, auto_detect=true, union_by_name=true)
GROUP BY ALL ORDER BY p''').fetchall()")
    printf '%-6s fast %8.3fs  scan %8.3fs  duckdb %8.3fs  duckdb/fast %7.1fx  duckdb/scan %6.1fx\n' \
        "--$p" "$fast" "$scan" "$duck" "$(echo "$duck / $fast" | bc -l)" "$(echo "$duck / $scan" | bc -l)"
done
