#!/usr/bin/env bash
# Archive benchmark, every figure of BENCHMARKS.md "Archive" in one run:
#  1. a year of one-second records of a household (gen_year noisy: 31.5 M rows) as CSV;
#  2. compaction: `tic-rec compact` on a hard-linked copy, wall time, rows/s, peak RSS;
#  3. size: bytes a row, and what each column costs;
#  4. `export --month` over the compacted year with no index at all (cold = first run, best
#     of 3), against DuckDB's monthly HC/HP query over the same Parquet files;
#  5. a full read of every column: the CSV year and the Parquet year through the same
#     store reader (row by row, every cell), and the Parquet year decoded column by column;
#  6. a fleet: METERS copies of the archive as fleet/<meter>/YYYY/MM/*.parquet (hard links),
#     DuckDB's HC/HP per meter per month, in meters × days per second;
#  7. the memory bound: a day of 864,000 rows (10 a second) compacted, peak RSS.
# Generated data goes under target/bench-archive (CSV ~4.5 GB, removed at the end unless KEEP=1).
#   benches/archive.sh [DAYS (365)] [METERS (10)]
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-365}
meters=${2:-10}
root=target/bench-archive
csv=$root/csv-$days
pq=$root/parquet-$days
py=${TIC_REC_PYTHON:-target/py-venv/bin/python}
cargo build --release --quiet --bin tic-rec --example gen_year --example archive_bench
bin=target/release/tic-rec
ex=target/release/examples
mkdir -p "$root"
[ -d "$csv" ] || "$ex/gen_year" "$csv" "$days" noisy
rows=$(find "$csv" -name '*.csv' -exec cat {} + | grep -vc '^time,')
csv_bytes=$(du -sb --exclude=.tic-rec-index "$csv" | cut -f1)
echo "data: $days days, $rows rows, $csv_bytes bytes of CSV ($(echo "scale=1; $csv_bytes / $rows" | bc) bytes a row)"

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { local b x; b=$(t "$@"); for _ in 1 2; do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done; echo "$b"; }
rss() { grep 'Maximum resident' "$1" | awk '{print $6}'; }

# 2. Compaction.
rm -rf "$pq"
cp -al "$csv" "$pq"
rm -rf "$pq/.tic-rec-index"
/usr/bin/time -v -o "$root/compact.time" "$bin" compact --include-today --data-dir "$pq" 2>"$root/compact.err"
wall=$(grep 'Elapsed (wall' "$root/compact.time" | awk '{print $NF}')
secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
echo "compact: $(tail -1 "$root/compact.err")"
echo "compact: ${secs} s wall, $(echo "$rows / $secs" | bc) rows/s, peak RSS $(rss "$root/compact.time") kB"
pq_bytes=$(du -sb "$pq" | cut -f1)
echo "size: $pq_bytes bytes of Parquet, $(echo "scale=3; $pq_bytes / $rows" | bc) bytes a row ($(echo "scale=0; $csv_bytes / $pq_bytes" | bc)× smaller)"

# 3. What each column costs.
"$ex/archive_bench" sizes "$pq" > "$root/sizes.md"
cat "$root/sizes.md"

# 4. export --month without any index, against DuckDB on the same files.
rm -rf "$pq/.tic-rec-index"
cold=$(t "$bin" export --month --format csv --data-dir "$pq")
rm -rf "$pq/.tic-rec-index"
warm=$(best "$bin" export --month --format csv --data-dir "$pq")
[ ! -d "$pq/.tic-rec-index" ] || echo "note: an index was written: $(find "$pq/.tic-rec-index" -type f | wc -l) files"
duck=$(best "$py" -c "
import duckdb
duckdb.sql('''
SELECT date_trunc('month', time AT TIME ZONE 'Europe/Paris') AS month,
       max(EAST) - min(EAST) AS east_wh, max(EASF01) - min(EASF01) AS hc_wh, max(EASF02) - min(EASF02) AS hp_wh
FROM read_parquet('$pq/*/*/*.parquet') GROUP BY ALL ORDER BY month''').fetchall()")
printf 'export --month, no index: first run %.3f s, best of 3 %.3f s | DuckDB monthly HC/HP over the Parquet files %.3f s | DuckDB / tic-rec %.1fx\n' \
    "$cold" "$warm" "$duck" "$(echo "$duck / $warm" | bc -l)"

# 5. Full reads.
read_csv=$(t "$ex/archive_bench" read "$csv")
read_pq=$(t "$ex/archive_bench" read "$pq")
"$ex/archive_bench" columns "$pq" | tee "$root/columns.txt"
cols1=$(head -1 "$root/columns.txt" | sed -E "s/.* in ([0-9.]+) s.*/\1/")
colsn=$(tail -1 "$root/columns.txt" | sed -E "s/.* in ([0-9.]+) s.*/\1/")
scan_csv=$(t "$bin" export --month --no-index --format csv --data-dir "$csv")
scan_pq=$(t "$bin" export --month --no-index --format csv --data-dir "$pq")
printf 'the CSV scan today (export --month --no-index over the CSV year): %.2f s; over the Parquet year: %.2f s (%.1fx)\n' \
    "$scan_csv" "$scan_pq" "$(echo "$scan_csv / $scan_pq" | bc -l)"
printf 'full read of every cell through store::DayReader, row by row: CSV %.2f s, Parquet %.2f s (%.1fx)\n' \
    "$read_csv" "$read_pq" "$(echo "$read_csv / $read_pq" | bc -l)"
printf 'full read of every column, decoded to Arrow (digests checked): 1 thread %.2f s (%.1fx the CSV scan), all cores %.2f s (%.1fx)\n' \
    "$cols1" "$(echo "$scan_csv / $cols1" | bc -l)" "$colsn" "$(echo "$scan_csv / $colsn" | bc -l)"

# 6. A fleet.
fleet=$root/fleet
rm -rf "$fleet"
for m in $(seq -w 1 "$meters"); do
    mkdir -p "$fleet"
    cp -al "$pq" "$fleet/0418760990$m"
    rm -rf "$fleet/0418760990$m/.tic-rec-index"
done
fl=$(best "$py" -c "
import duckdb
duckdb.sql('''
SELECT split_part(filename, '/', -4) AS meter, date_trunc('month', time AT TIME ZONE 'Europe/Paris') AS month,
       max(EASF01) - min(EASF01) AS hc_wh, max(EASF02) - min(EASF02) AS hp_wh
FROM read_parquet('$fleet/*/*/*/*.parquet', filename = true) GROUP BY ALL ORDER BY ALL''').fetchall()")
printf 'fleet: %d meters x %d days, DuckDB HC/HP per meter per month %.2f s: %.0f meter-days/s\n' \
    "$meters" "$days" "$fl" "$(echo "$meters * $days / $fl" | bc -l)"
rm -rf "$fleet"

# 7. Memory bound: 864,000 rows in one day.
big=$root/big
rm -rf "$big"
"$ex/gen_year" "$big" 1 noisy 10
/usr/bin/time -v -o "$root/big.time" "$bin" compact --include-today --data-dir "$big" 2>"$root/big.err"
echo "864,000-row day: $(tail -1 "$root/big.err"); peak RSS $(rss "$root/big.time") kB, $(grep 'Elapsed (wall' "$root/big.time" | awk '{print $NF}') wall"
rm -rf "$big"
[ "${KEEP:-0}" = 1 ] || rm -rf "$csv" "$pq"
