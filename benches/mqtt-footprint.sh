#!/usr/bin/env bash
# Footprint of `tic-rec record --mqtt`: peak RSS and CPU of the recorder on a simulated
# standard meter at the real line pace (9600 baud) through a pseudo-terminal, without and with
# the MQTT link to a local mosquitto (started here on a free loopback port, anonymous), which
# mosquitto_sub listens to. Then the time from a frame to its state message
# (`cargo bench --profile release --bench mqtt_latency`).
# Usage: benches/mqtt-footprint.sh [seconds per run, default 120]
# Needs: mosquitto, mosquitto-clients (apt-get install mosquitto mosquitto-clients).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
cargo build --release --quiet
bin=target/release/tic-rec
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
tck=$(getconf CLK_TCK)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$tmp/mosquitto.conf"
/usr/sbin/mosquitto -c "$tmp/mosquitto.conf" 2>"$tmp/mosquitto.log" &
sleep 0.5
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'tic-rec/#' >"$tmp/sub.out" &

# run NAME RECORD-ARGS...: the simulator on a pty at the line's pace, the recorder on it.
run() {
    local name=$1; shift
    "$bin" simulate --pty --mode standard --contract hchp --start 2026-01-14T21:00:00 \
        --speed 1 --duration "${secs}s" >"$tmp/sim-$name.out" 2>"$tmp/sim-$name.err" &
    local sim=$!
    while [ ! -s "$tmp/sim-$name.out" ]; do sleep 0.05; done
    local pty; pty=$(head -1 "$tmp/sim-$name.out")
    "$bin" record --port "$pty" --mode standard --data-dir "$tmp/data-$name" "$@" 2>"$tmp/rec-$name.err" &
    local rec=$!
    local t0; t0=$(date +%s.%N)
    wait $sim
    sleep 0.5
    local t1; t1=$(date +%s.%N)
    local ticks; ticks=$(awk '{print $14 + $15}' /proc/$rec/stat)
    local hwm; hwm=$(awk '/VmHWM/ {print $2}' /proc/$rec/status)
    local threads; threads=$(awk '/Threads/ {print $2}' /proc/$rec/status)
    # CPU ticks per thread (the MQTT link's own threads are tic-rec-mqtt*).
    local per; per=$(for t in /proc/$rec/task/*; do printf '%s=%s ' "$(cat "$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"; done)
    kill -TERM $rec; wait $rec || true
    local rows; rows=$(cat "$tmp"/data-$name/journal/*/*/*.csv | grep -vc '^time' || true)
    awk -v n="$name" -v r="$rows" -v t="$ticks" -v k="$tck" -v h="$hwm" -v a="$t0" -v b="$t1" -v th="$threads" 'BEGIN {
        cpu = t / k; wall = b - a;
        printf "%-10s rows %5d  wall %6.1f s  cpu %6.2f s  %%core %6.3f  peak RSS %5.1f MB  threads %d\n",
            n, r, wall, cpu, cpu / wall * 100, h / 1024, th }'
    echo "           CPU ticks (1/$tck s) by thread: $per"
}

run no-mqtt
run mqtt --mqtt "mqtt://127.0.0.1:$port"
echo "state messages received: $(grep -c '"SINSTS"' "$tmp/sub.out" || true)"
grep '"SINSTS"' "$tmp/sub.out" | awk '{ n++; b += length($0) + 1 } END { if (n) printf "state message: %d bytes on average (%.1f MB a day at one every 10 s)\n", b / n, b / n * 8640 / 1e6 }'
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'homeassistant/#' --retained-only -W 1 2>/dev/null \
    | awk '{ n++; b += length($0) + 1 } END { printf "discovery: %d retained configs, %d bytes\n", n, b }' || true
# The release profile's artifacts (the bench profile would build everything again).
cargo bench --quiet --profile release --bench mqtt_latency
