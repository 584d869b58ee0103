#!/usr/bin/env bash
# Footprint of `tic-rec record` on a simulated meter through a pseudo-terminal:
# peak RSS and CPU time per frame, at the real line pace (9600 baud) and at max speed.
# Usage: benches/record-footprint.sh [seconds at real pace, default 60] [frames at max speed, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
real_secs=${1:-60}
max_frames=${2:-20000}
cargo build --release --quiet
bin=target/release/tic-rec
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
tck=$(getconf CLK_TCK)

# run NAME SIM-ARGS...: starts the simulator on a pty, records it, prints one result line.
run() {
    local name=$1; shift
    "$bin" simulate --pty --mode standard --contract hchp --start 2026-01-14T21:00:00 "$@" \
        >"$tmp/sim.out" 2>"$tmp/sim.err" &
    local sim=$!
    while [ ! -s "$tmp/sim.out" ]; do sleep 0.05; done
    local port; port=$(head -1 "$tmp/sim.out")
    "$bin" record --port "$port" --mode standard --data-dir "$tmp/data-$name" 2>"$tmp/rec-$name.err" &
    local rec=$!
    local t0; t0=$(date +%s.%N)
    wait $sim
    sleep 0.5
    local t1; t1=$(date +%s.%N)
    # CPU ticks (utime + stime) and peak RSS of the recorder, read before it stops.
    local ticks; ticks=$(awk '{print $14 + $15}' /proc/$rec/stat)
    local hwm; hwm=$(awk '/VmHWM/ {print $2}' /proc/$rec/status)
    kill -TERM $rec; wait $rec || true
    local rows; rows=$(cat "$tmp"/data-$name/journal/*/*/*.csv | grep -vc '^time' || true)
    local frames; frames=$(grep -o 'served [0-9]*' "$tmp/sim.err" | grep -o '[0-9]*')
    awk -v n="$name" -v f="$frames" -v r="$rows" -v t="$ticks" -v k="$tck" -v h="$hwm" -v a="$t0" -v b="$t1" 'BEGIN {
        cpu = t / k; wall = b - a;
        printf "%-10s frames %6d  rows %6d  wall %6.1f s  cpu %6.2f s  cpu/frame %7.1f us  %%core %6.3f  peak RSS %5.1f MB\n",
            n, f, r, wall, cpu, cpu / f * 1e6, cpu / wall * 100, h / 1024 }'
}

run real-pace --speed 1 --duration "${real_secs}s"
run max-speed --speed max --frames "$max_frames" --frame-interval 1s
