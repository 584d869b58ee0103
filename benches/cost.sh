#!/usr/bin/env bash
# Cost benchmark, the figures of BENCHMARKS.md "Cost" in one run:
#  1. a year of one-second records of a household (gen_year noisy: 31.5 M rows), HC
#     22:00-06:00, compacted in place with `tic-rec compact` (no index left);
#  2. `tic-rec cost --year`, `--month`, `--day` over it with no index at all: first run and
#     best of 3, each output compared with `--no-index` (every row read);
#  3. the same year from a meter whose HC are 01:04-06:34 and 14:34-17:04: the schedule is
#     learned and its minutes read from the summaries' marks; `--hc` at other minutes reads
#     every day in full, for comparison;
#  4. "today so far" the dashboard's way: `cost --from D --to D` over 28 CSV days at one
#     record a second, with today's file touched (so re-read) before every run.
# Generated data goes under target/bench-cost (CSV ~4.8 GB a year until compacted; removed at
# the end unless KEEP=1).
#   benches/cost.sh [DAYS (365)]
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-365}
root=target/bench-cost
cargo build --release --quiet --bin tic-rec --example gen_year
bin=target/release/tic-rec
gen=target/release/examples/gen_year
mkdir -p "$root"

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { local b x; b=$(t "$@"); for _ in 1 2; do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done; echo "$b"; }

# A compacted year under $1, generated with the extra gen_year arguments.
year() {
    local dir=$1; shift
    if [ ! -f "$dir/.done" ]; then
        rm -rf "$dir"
        "$gen" "$dir" "$days" noisy "$@"
        "$bin" compact --include-today --data-dir "$dir" 2>"$dir.compact.err"
        tail -1 "$dir.compact.err"
        touch "$dir/.done"
    fi
    rm -rf "$dir/.tic-rec-index"
}

# cost $2... over $1: first run and best of 3 with no index, and the same bytes as --no-index.
measure() {
    local dir=$1; shift
    rm -rf "$dir/.tic-rec-index"
    local first warm scan
    first=$(t "$bin" cost --format csv --data-dir "$dir" "$@")
    rm -rf "$dir/.tic-rec-index"
    warm=$(best "$bin" cost --format csv --data-dir "$dir" "$@")
    [ ! -d "$dir/.tic-rec-index" ] || echo "note: an index was written: $(find "$dir/.tic-rec-index" -type f | wc -l) files"
    "$bin" cost --format csv --data-dir "$dir" "$@" >"$root/index.csv" 2>"$root/index.err"
    scan=$(t "$bin" cost --format csv --no-index --data-dir "$dir" "$@")
    "$bin" cost --format csv --no-index --data-dir "$dir" "$@" >"$root/scan.csv" 2>/dev/null
    local same=identical
    cmp -s "$root/index.csv" "$root/scan.csv" || same=DIFFERENT
    printf '%-44s first %.3f s, best of 3 %.3f s | --no-index %.2f s | output %s (%d rows)\n' \
        "cost $*" "$first" "$warm" "$scan" "$same" "$(($(wc -l <"$root/index.csv") - 1))"
}

std=$root/year-22-06
year "$std"
echo "data: $days days, 22:00-06:00, $(du -sb --exclude=.tic-rec-index "$std" | cut -f1) bytes of Parquet"
measure "$std" --year
tail -1 "$root/index.err"
measure "$std" --month
measure "$std" --day

odd=$root/year-odd
year "$odd" hc=01:04-06:34,14:34-17:04
echo "data: $days days, 01:04-06:34,14:34-17:04"
measure "$odd" --year
grep -m1 'HC/HP what-if' "$root/index.err"
measure "$odd" --year --hc 01:05-06:35,14:35-17:05

# Today so far: 28 CSV days, the last one touched before each run (the recorder appends to it).
csv=$root/csv-28
[ -d "$csv" ] || "$gen" "$csv" 28 noisy
last=$(find "$csv" -name '*.csv' | sort | tail -1)
d=$(basename "$last" .csv)
"$bin" cost --format csv --data-dir "$csv" --from "$d" --to "$d" >/dev/null 2>&1
today() { touch "$last"; "$bin" cost --format csv --data-dir "$csv" --from "$d" --to "$d"; }
printf 'today so far (%s, 86,400 rows re-read, 27 days from the index): best of 3 %.3f s\n' \
    "$d" "$(best today)"
[ "${KEEP:-0}" = 1 ] || rm -rf "$root"
