#!/usr/bin/env bash
# Regenerates the sample captures in data/ with the project's own simulator.
# Run from the repository root: data/make.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sim() { cargo run --quiet --release -- simulate --speed max "$@"; }
sim --mode standard   --contract base  --phases 1 --start 2026-03-01T09:18:00 --frames 12 -o data/standard-mono-base.tic
sim --mode standard   --contract hchp  --phases 1 --start 2026-01-14T21:59:50 --frames 24 -o data/standard-mono-hchp-22h.tic
sim --mode standard   --contract tempo --phases 3 --producer --start 2026-04-14T08:26:00 --frames 6 -o data/standard-tri-tempo-producer.tic
sim --mode historique --contract hchp  --phases 1 --start 2026-01-14T21:59:50 --frames 12 -o data/historique-mono-hchp.tic
sim --mode historique --contract base  --phases 3 --start 2026-06-01T12:00:00 --frames 6 -o data/historique-tri-base.tic
sim --mode historique --contract tempo --phases 1 --start 2026-01-14T05:59:50 --frames 8 -o data/historique-mono-tempo.tic
# The October DST day (25 h) at one frame every 10 minutes, from 23:00 the day before.
sim --mode standard   --contract hchp  --start 2026-10-24T23:00:00 --frame-interval 10min --duration 26h -o data/standard-mono-hchp-dst-october.tic
# The March DST day (23 h).
sim --mode standard   --contract hchp  --start 2026-03-28T23:00:00 --frame-interval 10min --duration 24h -o data/standard-mono-hchp-dst-march.tic
# A noisy line: noise, wrong checksums, EOT cuts, parity bit set (read 8N1).
sim --mode standard   --contract hchp  --start 2026-06-01T12:00:00 --frames 200 --seed 7 \
    --faults noise=0.05,badsum=0.01,eot=0.02,parity -o data/standard-mono-hchp-faults.tic
