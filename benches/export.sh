#!/usr/bin/env bash
# Export benchmark: tic-rec export --month/--day against DuckDB computing the same per-period
# EAST/HC/HP deltas from the same daily files, in one run. tic-rec is timed three ways:
#   cold  default mode, no index yet: reads every file and builds the index (.tic-rec-index);
#   warm  default mode, index present (best of 3 runs);
#   scan  --no-index: reads every row, neither reads nor writes the index.
#   benches/export.sh [DAYS]   (default 365: 31.5 M rows, ~4.5 GB under target/bench-export)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-365}
dir=target/bench-export/$days
py=${TIC_REC_PYTHON:-target/py-venv/bin/python}
cargo build --release --quiet --bin tic-rec --example gen_year
[ -d "$dir" ] || target/release/examples/gen_year "$dir" "$days"
echo "data: $days days, $(du -sh --exclude=.tic-rec-index "$dir" | cut -f1), $(cat "$dir"/*/*/*.csv | wc -l) lines"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { local b x; b=$(t "$@"); for _ in 1 2; do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done; echo "$b"; }
run=(target/release/tic-rec export --format csv --data-dir "$dir")
for p in month day; do
    rm -rf "$dir/.tic-rec-index"
    cold=$(t "${run[@]}" --$p)
    warm=$(best "${run[@]}" --$p)
    scan=$(t "${run[@]}" --$p --no-index)
    duck=$(t "$py" -c "
import duckdb
duckdb.sql('''
SELECT date_trunc('$p', time AT TIME ZONE 'Europe/Paris') AS p,
       max(EAST) - min(EAST) AS east_wh, max(EASF01) - min(EASF01) AS hc_wh, max(EASF02) - min(EASF02) AS hp_wh
FROM read_csv('$dir/*/*/*.csv', types={'time':'TIMESTAMPTZ'}, auto_detect=true, union_by_name=true)
GROUP BY ALL ORDER BY p''').fetchall()")
    printf -- '--%-5s duckdb %7.3fs | tic-rec cold %7.3fs warm %7.3fs scan %7.3fs | duckdb/cold %5.1fx duckdb/warm %6.0fx duckdb/scan %5.1fx\n' \
        "$p" "$duck" "$cold" "$warm" "$scan" "$(echo "$duck / $cold" | bc -l)" "$(echo "$duck / $warm" | bc -l)" "$(echo "$duck / $scan" | bc -l)"
done
echo "index: $(du -sh "$dir/.tic-rec-index" | cut -f1) for $(find "$dir" -name '*.csv' | wc -l) files"
