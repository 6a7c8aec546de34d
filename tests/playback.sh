#!/usr/bin/env bash
# Measures playback in a real window: opens the explorer under Xvfb (lavapipe,
# Mesa's software Vulkan), lets the first run finish, presses End and Space to
# play it back, and prints the median and p90 of the frame interval from
# `--frame-stats` while it plays.
#
#   bash tests/playback.sh [WIDTHxHEIGHT] [SCENE] [X,Y ...]
#
# Each X,Y is clicked (window coordinates) before playback, for example to
# turn a layer off. For example, the 2D scene at a 1280x720 projector, with
# its trails off:
#
#   bash tests/playback.sh 1280x720 2d-mixture 15,608
#
# SCENE `empty` measures the reference instead: a nearly empty eframe window
# that redraws without pause (examples/empty_window.rs, built if missing).
#
# Playback asks for a new frame as soon as one is drawn, so the interval is
# what one frame costs; 50 ms or less holds 20 frames/s.
# Needs: xvfb mesa-vulkan-drivers libvulkan1 xdotool (see ../shared/STACK.md).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1280x720}"
scene="${2:-2d-mixture}"
shift $(($# > 2 ? 2 : $#))
# shellcheck source=tests/virtual_screen.sh
. tests/virtual_screen.sh
start_virtual_screen ":${PLAYBACK_DISPLAY:-92}" "$size"
stats="$scratch/frames.csv"
# summarise FROM_MS: the frames that began at FROM_MS or later; an interval
# over 500 ms is the idle wait after playback ends.
summarise() {
    awk -F, -v from="$1" 'NR > 1 && $2 >= from && $4 < 500 { print $4, $3 }' "$stats" |
        sort -n | awk -v scene="$scene" '{ v[NR] = $1; ui += $2 } END {
            if (NR == 0) { print scene ": no frames"; exit 1 }
            printf "%s: frames %d  interval median %.1f ms  p90 %.1f ms  (UI pass %.1f ms on average)\n",
                scene, NR, v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], ui / NR
        }'
}
if [ "$scene" = empty ]; then
    empty_bin=target/release/examples/empty_window
    [ -x "$empty_bin" ] || cargo build --release --example empty_window
    "$empty_bin" "$size" "$stats" 8
    # From a second after the first frame, past start-up.
    summarise $(($(head -2 "$stats" | tail -1 | cut -d, -f2) + 1000))
    exit
fi
"$bin" explore --scene "$scene" --size "$size" --frame-stats "$stats" &
app_pid=$!
sleep "${PLAYBACK_WAIT_SECS:-20}"
win="$(xdotool search --pid "$app_pid" | tail -1)"
xdotool windowactivate --sync "$win" 2>/dev/null || true
xdotool windowfocus "$win"
for point in "$@"; do
    xdotool mousemove --window "$win" "${point%,*}" "${point#*,}" click 1
    sleep 1
done
# Away from the figure, so no hover changes what is drawn.
xdotool mousemove --window "$win" 5 5
start_ms=$(($(date +%s%N) / 1000000))
xdotool key End
sleep 0.3
xdotool key space
sleep "${PLAYBACK_SECS:-4}"
# Frames from 400 ms after Space.
summarise $((start_ms + 700))
