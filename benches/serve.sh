#!/usr/bin/env bash
# The dashboard's figures (BENCHMARKS.md, "Dashboard"):
#  1. server time of the pages and API calls over a compacted year (one standard-mode
#     record a second, examples/gen_year.rs then `tic-rec compact`), by curl's time_total
#     on loopback: the first request (cold page cache of the process) and the median of 20;
#  2. requests/s of /api/now (wrk, Debian's package, if present; else a curl loop);
#  3. page weights;
#  4. the recorder's CPU and peak RSS at the real 9600-baud pace for N seconds with
#     --http and one open Now page (its script holds /api/events; or, where that is
#     refused, polls /api/now every second), and with --http --mqtt (a local mosquitto,
#     Debian's package) and the page polling or on events, against the same run without
#     --http.
#     The time on CPU of the recording thread and of the server's own threads (http-*) is
#     read from /proc/PID/task/*/schedstat too (nanoseconds, not 10 ms ticks).
# Usage: benches/serve.sh [seconds for 4, default 120] [footprint: only part 4]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
only=${2:-}
cargo build --release --quiet --bin tic-rec --example gen_year
bin=target/release/tic-rec
year=target/bench-serve/year
if [ "$only" != footprint ] && [ ! -f "$year/records/2025/12/2025-12-30.parquet" ]; then
    rm -rf "$year"
    target/release/examples/gen_year "$year" 365
    "$bin" compact --data-dir "$year"
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# addr FILE: the address of the "dashboard on http://ADDR/" line of a stderr file.
addr() { local a=""; while [ -z "$a" ]; do sleep 0.05; a=$(grep -o 'dashboard on http://[^/]*' "$1" | sed 's|.*http://||' || true); done; echo "$a"; }

if [ "$only" != footprint ]; then
"$bin" serve --data-dir "$year" --listen 127.0.0.1:0 2>"$tmp/serve.err" &
pids+=($!)
a=$(addr "$tmp/serve.err")
echo "year: $(du -sh "$year" | cut -f1) in $(find "$year" -name '*.parquet' | wc -l) Parquet days; serving on $a"
# An uncached month first (the warm-up thread, at the lowest priority, goes from the last month back), then
# let the warm-up fill the cache with the last 12 months, the year and the contracts.
printf '%-62s uncached %7.1f ms\n' "/month?month=2025-03 (uncached)" "$(echo "$(curl -s -o /dev/null -w '%{time_total}' "http://$a/month?month=2025-03")*1000" | bc -l)"
sleep 5

echo "== server time (curl time_total, loopback)"
for u in "/month?month=2025-06" "/month?month=2025-12" "/year?year=2025" "/day?date=2025-06-15" \
         "/" "/contracts" "/api/now" "/api/periods?period=day&from=2025-01-01&to=2025-12-31" \
         "/api/records?from=2025-06-15&to=2025-06-16&max_points=480" \
         "/api/records?from=2025-01-01&to=2025-12-31&max_points=1000" "/metrics"; do
    first=$(curl -s -o /dev/null -w '%{time_total}' "http://$a$u")
    n=20; case $u in *records*2025-01-01*) n=3;; esac
    times=$(for _ in $(seq $n); do curl -s -o /dev/null -w '%{time_total}\n' "http://$a$u"; done | sort -n)
    med=$(echo "$times" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    size=$(curl -s -o /dev/null -w '%{size_download}' "http://$a$u")
    printf '%-62s first %7.1f ms  median of %2d %7.1f ms  %7d B\n' "$u" "$(echo "$first*1000" | bc -l)" "$n" "$(echo "$med*1000" | bc -l)" "$size"
done

echo "== uncached month tables (10 distinct ranges of 28-30 days, so that none is in the cache)"
times=$(for d in 01 02 03 04 05 06 07 08 09 10; do
    curl -s -o /dev/null -w '%{time_total}\n' "http://$a/api/periods?period=day&from=2025-$d-02&to=2025-$d-28"
done | sort -n)
echo "$times" | awk '{v[NR]=$1*1000} END {printf "min %.1f ms  median %.1f ms  max %.1f ms\n", v[1], v[int((NR+1)/2)], v[NR]}'

echo "== /api/now requests/s (over the year, from the files)"
if command -v wrk >/dev/null; then
    wrk -t2 -c8 -d10s "http://$a/api/now" | grep -E 'Requests/sec|Latency|Non-2xx' || true
else
    t0=$(date +%s.%N); for _ in $(seq 500); do curl -s -o /dev/null "http://$a/api/now"; done; t1=$(date +%s.%N)
    echo "curl loop: $(echo "500 / ($t1 - $t0)" | bc -l | cut -c1-7) requests/s"
fi

fi

echo "== recorder footprint at 9600 baud for ${secs}s (simulator on a pty)"
tck=$(getconf CLK_TCK)
# run ID NAME HTTP(0|1|2) [MQTT URL]
run() {
    local id=$1 name=$2 http=$3 mqtt=${4:-}
    "$bin" simulate --pty --mode standard --contract hchp --start 2026-01-14T21:00:00 --speed 1 --duration "${secs}s" \
        >"$tmp/sim-$id.out" 2>"$tmp/sim-$id.err" &
    local sim=$!; pids+=($sim)
    while [ ! -s "$tmp/sim-$id.out" ]; do sleep 0.05; done
    local port; port=$(head -1 "$tmp/sim-$id.out")
    local extra=()
    [ "$http" != 0 ] && extra=(--http 127.0.0.1:0)
    [ -n "$mqtt" ] && extra+=(--mqtt "$mqtt")
    "$bin" record --port "$port" --mode standard --data-dir "$tmp/data-$id" "${extra[@]}" 2>"$tmp/rec-$id.err" &
    local rec=$!; pids+=($rec)
    local poller=""
    if [ "$http" != 0 ]; then
        local ra; ra=$(addr "$tmp/rec-$id.err")
        if [ "$http" = 2 ]; then
            # The Now page as its script runs inside the recorder: one held event stream.
            curl -sN -o /dev/null "http://$ra/api/events" &
        else
            # The Now page polling, as over `serve` (or where the events are refused).
            ( while true; do curl -s -o /dev/null "http://$ra/api/now"; sleep 1; done ) &
        fi
        poller=$!; pids+=($poller)
    fi
    local t0; t0=$(date +%s.%N)
    wait $sim
    sleep 0.5
    local t1; t1=$(date +%s.%N)
    local ticks; ticks=$(awk '{print $14 + $15}' /proc/$rec/stat)
    local hwm; hwm=$(awk '/VmHWM/ {print $2}' /proc/$rec/status)
    # Time on CPU of the live threads in ns (schedstat): the recording thread, the server's.
    local http=0 main=0
    for t in /proc/$rec/task/*; do
        local ns; ns=$(awk '{print $1}' "$t/schedstat")
        if grep -q '^http-' "$t/comm" 2>/dev/null; then
            http=$((http + ns))
        elif [ "$(cat "$t/comm")" = tic-rec ]; then
            main=$((main + ns))
        fi
    done
    [ -n "$poller" ] && kill "$poller"
    kill -TERM $rec; wait $rec || true
    local rows; rows=$(cat "$tmp"/data-$id/journal/*/*/*.csv | grep -vc '^time' || true)
    awk -v n="$name" -v r="$rows" -v t="$ticks" -v k="$tck" -v h="$hwm" -v a="$t0" -v b="$t1" -v s="$http" -v m="$main" 'BEGIN {
        cpu = t / k; wall = b - a;
        printf "%-22s rows %5d  wall %6.1f s  cpu %5.2f s  %%core %6.3f  peak RSS %5.1f MB | schedstat: recording thread %%core %6.3f, server threads %%core %6.3f\n", n, r, wall, cpu, cpu / wall * 100, h / 1024, m / 1e9 / wall * 100, s / 1e9 / wall * 100 }'
}
run plain "without --http" 0
run poll "--http, page polling" 1
run events "--http, page on events" 2
if command -v mosquitto >/dev/null; then
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mosquitto -p "$mport" >"$tmp/mosquitto.log" 2>&1 &
    pids+=($!)
    sleep 0.5
    run mqtt "--http --mqtt, polling" 1 "mqtt://127.0.0.1:$mport"
    run mqttev "--http --mqtt, events" 2 "mqtt://127.0.0.1:$mport"
else
    echo "(no mosquitto: the --mqtt run left out)"
fi
ls -l "$bin" | awk '{print "release binary: " $5 " B"}'
