#!/usr/bin/env bash
# Power-cut figures of RELIABILITY.md (issue 21), in release:
#  - the model (tests/powercut): SEEDS schedules per semantics (journaled, vfat), each cut at
#    random operations and restarted, SEEDS/4 started on a directory of the layout before
#    (moved first, cut while it moves), and SEEDS/8 runs of the recorder's own loop with its
#    archive job; prints one table row per run (cut points, what the cuts kept, rows durable
#    at the cuts and lost, rows under the --fsync-interval promise and not durable, days read);
#  - the images (tests/powercut_image): the binary on loop-mounted ext4 (and vfat where the
#    kernel has it: an opt-in, run here with --include-ignored), copied while it writes, each
#    copy fsck'd and recovered (needs root);
#  - what --fsync-interval costs: a day of rows at 1 s and 1 min cadences, each interval,
#    fsyncs at the seam and writes at the loop device (needs root).
# Usage: benches/powercut.sh [SEEDS=40]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-40}
echo "== the model: $seeds seeds per semantics" >&2
POWERCUT_SEEDS=$seeds cargo test --release --quiet --test powercut long_run -- --ignored --nocapture \
    2>&1 | grep -E '^\|'
echo "== the images, and what --fsync-interval costs" >&2
TIC_REC_FSYNC_COST_FULL=1 cargo test --release --quiet --test powercut_image -- --include-ignored --nocapture \
    2>&1 | grep -E '^\||^copy|^Ext4|^Vfat|ignored|FAILED|panicked'
