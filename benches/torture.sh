#!/usr/bin/env bash
# Torture figures of `tic-rec record` (RELIABILITY.md), with the release binary and the
# built-in simulator on real pseudo-terminals:
#   kill -9 at random moments, SIGTERM, the port unplugged for a while (time to the first row
#   once it is back), and a full disk (a real tmpfs, needs root) for a while.
# Usage: benches/torture.sh [KILLS=100] [TERMS=20] [OUTAGES="2 10 40 90"] [FULL_SECS=60]
# TIC_REC_BIN=path/to/tic-rec measures another build (e.g. an older one, for a before/after).
# Every data file is then checked strictly: whole rows only, the header's cell count, time
# strictly increasing within a file, no duplicate time across files.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100}
terms=${2:-20}
outages=${3:-"2 10 40 90"}
full_secs=${4:-60}
if [ -z "${TIC_REC_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${TIC_REC_BIN:-$PWD/target/release/tic-rec}
tmp=$(mktemp -d)
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    mountpoint -q "$tmp/full" 2>/dev/null && umount -l "$tmp/full"
    rm -rf "$tmp"
}
trap cleanup EXIT

# start_sim NAME SPEED: a simulated standard HC/HP meter on a pty whose time is now; sets
# $sim (pid) and $port.
start_sim() {
    "$bin" simulate --pty --mode standard --contract hchp --start "$(date +%Y-%m-%dT%H:%M:%S)" \
        --speed "$2" --duration 3h >"$tmp/sim-$1.out" 2>"$tmp/sim-$1.err" &
    sim=$!
    while [ ! -s "$tmp/sim-$1.out" ]; do sleep 0.02; done
    port=$(head -1 "$tmp/sim-$1.out")
}

rows() { cat "$1"/journal/*/*/*.csv 2>/dev/null | grep -vc '^time' || true; }

# check DIR: strict parse of every file; prints "files rows bad dup unordered gaps_s".
check() {
    python3 - "$1" <<'EOF'
import csv, glob, sys, datetime
files = sorted(glob.glob(sys.argv[1] + "/journal/*/*/*.csv"))
rows = bad = unordered = 0
times = []
for f in files:
    text = open(f, newline="").read()
    if text and not text.endswith("\n"):
        bad += 1
    r = list(csv.reader(text.splitlines()))
    header, body = r[0], r[1:]
    last = None
    for row in body:
        rows += 1
        try:
            assert len(row) == len(header)
            t = datetime.datetime.fromisoformat(row[0]).timestamp()
        except Exception:
            bad += 1
            continue
        if last is not None and t <= last:
            unordered += 1
        last = t
        times.append(t)
times.sort()
dup = len(times) - len(set(times))
gaps = sum(max(0, b - a - 1) for a, b in zip(times, times[1:]))
print(len(files), rows, bad, dup, unordered, int(gaps))
EOF
}

echo "== kill -9 x$kills (simulator at 10x line speed, one frame a meter second)"
start_sim kill 10
data=$tmp/data-kill
down=0
torn=0
for i in $(seq "$kills"); do
    "$bin" record --port "$port" --mode standard --data-dir "$data" 2>>"$tmp/rec-kill.err" &
    rec=$!
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + r / 32768 * 2.5 }')"
    kill -9 $rec; wait $rec 2>/dev/null || true
    t0=$(date +%s.%N); sleep 0.2; down=$(echo "$down + $(date +%s.%N) - $t0" | bc)
done
# One last start repairs the last torn tail, as the service would.
"$bin" record --port "$port" --mode standard --data-dir "$data" 2>>"$tmp/rec-kill.err" &
rec=$!; sleep 2; kill -TERM $rec; wait $rec || true
kill $sim; wait $sim 2>/dev/null || true
torn=$(grep -c 'cut a torn last line' "$tmp/rec-kill.err" || true)
read -r files n bad dup unordered gaps < <(check "$data")
echo "kills $kills: $n rows in $files files; torn tails cut at restart $torn; after repair: bad rows $bad, duplicates $dup, out of order $unordered"
echo "  meter seconds missing $gaps over $(printf %.0f "$(echo "$down * 10" | bc)") meter seconds of downtime (10x speed)"

echo "== SIGTERM x$terms"
start_sim term 10
data=$tmp/data-term
clean=0
for i in $(seq "$terms"); do
    "$bin" record --port "$port" --mode standard --data-dir "$data" 2>>"$tmp/rec-term.err" &
    rec=$!
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1 + r / 32768 * 2 }')"
    kill -TERM $rec
    if wait $rec; then clean=$((clean + 1)); fi
done
kill $sim; wait $sim 2>/dev/null || true
read -r files n bad dup unordered gaps < <(check "$data")
echo "terms $terms: exit 0 in $clean; $n rows; bad $bad, duplicates $dup, out of order $unordered; torn tails cut $(grep -c 'cut a torn' "$tmp/rec-term.err" || true)"

echo "== port outages: seconds unplugged -> seconds from replug to the first new row"
data=$tmp/data-out
link=$tmp/ttyTIC
start_sim out0 1
ln -sfn "$port" "$link"
"$bin" record --port "$link" --mode standard --data-dir "$data" 2>"$tmp/rec-out.err" &
rec=$!
while [ "$(rows "$data")" -lt 3 ]; do sleep 0.1; done
for o in $outages; do
    kill $sim; wait $sim 2>/dev/null || true
    rm -f "$link"
    sleep "$o"
    before=$(rows "$data")
    start_sim "out$o" 1
    ln -sfn "$port" "$link.new" && mv -T "$link.new" "$link"
    t0=$(date +%s.%N)
    while [ "$(rows "$data")" -le "$before" ]; do
        sleep 0.05
        if [ "$(echo "$(date +%s.%N) - $t0 > 60" | bc)" = 1 ]; then echo "  $o s: no row within 60 s"; break; fi
    done
    printf '  outage %3d s: first row %.2f s after the port came back\n' "$o" "$(echo "$(date +%s.%N) - $t0" | bc)"
done
kill -TERM $rec; wait $rec || true
kill $sim; wait $sim 2>/dev/null || true
echo "  log lines while unplugged: $(grep -c 'does not exist' "$tmp/rec-out.err" || true) (for $(echo $outages | tr ' ' '+' | bc) s of outages)"

echo "== disk full for $full_secs s (tmpfs)"
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=512k tmpfs "$tmp/full" 2>/dev/null; then
    data=$tmp/full
    dd if=/dev/zero of="$data/filler" bs=1k 2>/dev/null || true
    truncate -s -16k "$data/filler"
    start_sim full 1
    "$bin" record --port "$port" --mode standard --data-dir "$data" 2>"$tmp/rec-full.err" &
    rec=$!
    # wait_log PATTERN: up to a minute, while the recorder runs.
    wait_log() {
        for _ in $(seq 300); do
            grep -q "$1" "$tmp/rec-full.err" && return 0
            kill -0 $rec 2>/dev/null || break
            sleep 0.2
        done
        return 1
    }
    wait_log 'CANNOT WRITE' || echo "  the recorder never said it could not write"
    sleep "$full_secs"
    rm -f "$data/filler"
    wait_log 'writing again' || echo "  the recorder never said it writes again"
    sleep 2
    if kill -0 $rec 2>/dev/null; then kill -TERM $rec; wait $rec || true
    else wait $rec; echo "  the recorder had exited with status $? during the outage"; fi
    kill $sim; wait $sim 2>/dev/null || true
    grep -E 'CANNOT WRITE|writing again' "$tmp/rec-full.err" | sed 's/^/  /'
    read -r files n bad dup unordered gaps < <(check "$data")
    echo "  after: $n rows; bad $bad, duplicates $dup, out of order $unordered, meter seconds missing $gaps"
else
    echo "  skipped: cannot mount a tmpfs (needs root)"
fi
