#!/usr/bin/env bash
# Instructions a frame of the 2D picture redrawn every frame, per thread, from
# callgrind: `region_costs count` between its two marks. Frame times on a
# shared 2-core host swing by half from minute to minute; instruction counts
# do not, so an A/B of a drawing change can be read from one run of each.
#
#     tests/bench/count_frames.sh [BINARY] [FRAMES]
#
# COUNT_LAYERS_OFF=trails,score (any of density, score, trails) turns layers
# off first; COUNT_STRIDE=N shows a step N further on each frame (50 by
# default, as a 1000-step run streams; 0 holds the picture still). The main
# thread's count grows with the stride (the key presses, Shift + → for ten
# steps, each cost the window passes of its own: about 200 million
# instructions a frame at 50), so compare it only at the same stride; lavapipe's binning and
# rasteriser threads draw each frame once whatever the stride. Needs
# valgrind (Debian's package). Takes a few minutes.
set -euo pipefail
binary="${1:-target/release/examples/region_costs}"
frames="${2:-20}"
work="$(mktemp -d)"
export COUNT_FRAMES="$frames"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"
valgrind --tool=callgrind --separate-threads=yes --dump-instr=no \
    --callgrind-out-file="$work/callgrind.out.%p" "$binary" count >"$work/stdout" 2>"$work/stderr" &
pid=$!
wait_for() {
    until grep -q "$1" "$work/stdout"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "region_costs ended before $1; its stderr:" >&2
            tail -n 20 "$work/stderr" >&2
            exit 1
        fi
        sleep 1
    done
}
wait_for COUNT-BEGIN
callgrind_control -z "$pid" >/dev/null 2>&1
wait_for COUNT-END
callgrind_control -d "$pid" >/dev/null 2>&1
wait "$pid" || true
# The dump after COUNT-END holds the counted frames: one file a thread, named
# by the order threads started (01 the main thread; then, on lavapipe, the
# queue thread that bins, the rasterisers, and last the model thread), each
# with its total on the "summary:" line.
for file in "$work"/callgrind.out.*.1-*; do
    total="$(grep -m1 '^summary:' "$file" | awk '{print $2}')"
    if ((total > 0)); then
        echo "thread ${file##*-}: $((total / frames)) instructions a frame"
    fi
done
rm -rf "$work"
