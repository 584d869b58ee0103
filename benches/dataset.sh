#!/usr/bin/env bash
# The datasets benchmark (BENCHMARKS.md "Datasets"), every figure in one run, release build:
#  1. footers: a household (examples/gen_year noisy) for DAYS days at one row a second and at
#     one a minute, compacted: bytes a row, footer share, what the footer holds;
#  2. a year at one row every 10 s compacted (records/ and periods/): a warm
#     `export --month` (the periods dataset) against DuckDB's monthly HC/HP query over the
#     same records, side by side, best of 5 each, the same machine a minute apart;
#  3. a fleet: METERS hard-linked copies of that year as a Hive fleet (records/ and periods/),
#     the monthly HC/HP per meter in each engine of docs/datasets.md (benches/engines_bench.py),
#     over periods/ and over records/: seconds and meter-days a second.
# Generated data goes under target/bench-dataset (removed at the end unless KEEP=1).
#   benches/dataset.sh [DAYS (30)] [METERS (10)]
# DAYS 0 leaves out part 1, METERS 0 part 3 (`benches/dataset.sh 0 0`: part 2 alone).
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-30}
meters=${2:-10}
root=target/bench-dataset
py=${TIC_REC_PYTHON:-target/py-venv/bin/python}
cargo build --release --quiet --bin tic-rec --example gen_year
bin=target/release/tic-rec
ex=target/release/examples
rm -rf "$root"
mkdir -p "$root"

# Wall time of a command, read from bash itself ($EPOCHREALTIME: no `date` process forked
# around it, which added ~5 ms to every figure).
t() { local s e; s=$EPOCHREALTIME; "$@" >/dev/null; e=$EPOCHREALTIME; echo "$e - $s" | bc; }
best() { local b x; b=$(t "$@"); for _ in 1 2 3 4; do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done; echo "$b"; }

# 1. Footers.
footers() {
    "$py" - "$1" <<'EOF'
import glob, os, struct, sys
import pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + "/records/**/*.parquet", recursive=True))
size = rows = footer = 0
for f in files:
    size += os.path.getsize(f)
    with open(f, "rb") as fh:
        fh.seek(-8, 2)
        footer += struct.unpack("<i", fh.read(4))[0] + 8
    rows += pq.ParquetFile(f).metadata.num_rows
kv = pq.ParquetFile(files[0]).metadata.metadata or {}
print(f"{len(files)} files, {rows} rows, {size} bytes: {size / rows:.3f} bytes a row; "
      f"footers {footer} bytes ({100 * footer / size:.0f} % of the bytes, {footer / len(files):.0f} a file); "
      f"key-values of a file: " + ", ".join(f"{k.decode()} {len(v)} B" for k, v in kv.items()))
EOF
}
for every in $( [ "$days" -gt 0 ] && echo 1 60); do
    d=$root/every-$every
    "$ex/gen_year" "$d" "$days" noisy "every=$every"
    "$bin" compact --include-today --data-dir "$d" 2>"$d.err"
    echo "one row every $every s, $days days: $(footers "$d")"
    echo "  periods: $(du -sb "$d/periods" | cut -f1) bytes in $(find "$d/periods" -name '*.parquet' | wc -l) month file(s)"
done

# 2. A year at one row every 10 s: export --month from periods/ against DuckDB over records/.
year=$root/year
"$ex/gen_year" "$year" 365 noisy every=10
/usr/bin/time -v -o "$root/compact.time" "$bin" compact --include-today --data-dir "$year" 2>"$root/compact.err"
echo "year at 10 s: $(grep -h 'archived\|periods/' "$root/compact.err" | tr '\n' ' ')"
echo "  compact: $(grep 'Elapsed (wall' "$root/compact.time" | awk '{print $NF}') wall, peak RSS $(grep 'Maximum resident' "$root/compact.time" | awk '{print $6}') kB"
echo "  files a meter-year: $(find "$year/records" -name '*.parquet' | wc -l) in records/, $(find "$year/periods" -name '*.parquet' | wc -l) in periods/"
"$bin" export --month --format csv --data-dir "$year" >"$root/month.csv"
"$bin" export --month --format csv --no-index --data-dir "$year" >"$root/month-scan.csv"
cmp -s "$root/month.csv" "$root/month-scan.csv" && echo "  export --month from periods/ = a read of every row: yes" ||
    echo "  export --month from periods/ = a read of every row: NO"
ours=$(best "$bin" export --month --format csv --data-dir "$year")
duck=$(best "$py" -c "
import duckdb
duckdb.sql('''
SELECT date_trunc('month', time AT TIME ZONE 'Europe/Paris') AS month,
       max(EASF01) - min(EASF01) AS hc_wh, max(EASF02) - min(EASF02) AS hp_wh
FROM read_parquet('$year/records/*/*/*.parquet') GROUP BY ALL ORDER BY month''').fetchall()")
scan=$(t "$bin" export --month --format csv --no-index --data-dir "$year")
printf '  export --month (warm, periods/): %.4f s | DuckDB monthly HC/HP over records/: %.4f s | DuckDB / tic-rec: %.0fx | export --no-index (every row): %.2f s\n' \
    "$ours" "$duck" "$(echo "$duck / $ours" | bc -l)" "$scan"

# 3. A fleet of METERS copies, every engine.
if [ "$meters" -eq 0 ]; then
    [ "${KEEP:-0}" = 1 ] || rm -rf "$root"
    exit 0
fi
fleet=$root/fleet-hive
for m in $(seq -w 1 "$meters"); do
    for set in records periods; do
        mkdir -p "$fleet/$set"
        cp -al "$year/$set" "$fleet/$set/meter=0418760990$m"
    done
done
echo "fleet: $meters meters x 365 days (Hive layout), the monthly HC/HP per meter, best of 3:"
SPARK_LOCAL_IP=127.0.0.1 "$py" benches/engines_bench.py "$fleet" "$meters" 365 3 2>/dev/null
[ "${KEEP:-0}" = 1 ] || rm -rf "$root"
