#!/usr/bin/env bash
# Opens the explorer under Xvfb (lavapipe, Mesa's software Vulkan) and saves a
# screenshot of the whole 1280x720 screen: what a projector shows.
#
#   bash tests/screenshot.sh [out.png] [path/to/noisescope]
#
# Needs: xvfb mesa-vulkan-drivers libvulkan1 imagemagick (see ../shared/STACK.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets/screenshots/explorer.png}"
bin="${2:-target/release/noisescope}"
if [ ! -x "$bin" ]; then
    cargo build --release
fi
display=":${SCREENSHOT_DISPLAY:-97}"
Xvfb "$display" -screen 0 1280x720x24 >/dev/null 2>&1 &
xvfb_pid=$!
app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
}
trap cleanup EXIT
export DISPLAY="$display"
XDG_RUNTIME_DIR="$(mktemp -d)"
chmod 700 "$XDG_RUNTIME_DIR"
export XDG_RUNTIME_DIR
# A fresh session, so the window opens as a first start would.
NOISESCOPE_SESSION="$XDG_RUNTIME_DIR/session.lesson"
export NOISESCOPE_SESSION
sleep 1
"$bin" &
app_pid=$!
# The first run streams in well under a second; the software rasteriser needs a few more.
sleep "${SCREENSHOT_WAIT_SECS:-10}"
import -window root "$out"
echo "saved $out"
