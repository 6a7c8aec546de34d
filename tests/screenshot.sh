#!/usr/bin/env bash
# Opens the explorer under Xvfb (lavapipe, Mesa's software Vulkan) and saves a
# screenshot of the whole screen: what a projector shows.
#
#   bash tests/screenshot.sh [out.png] [WIDTHxHEIGHT] [explore flags...]
#
# for example, presentation mode at a 1280x720 projector:
#
#   bash tests/screenshot.sh assets/screenshots/present-1280x720.png 1280x720 --present
#
# The binary is $NOISESCOPE_BIN, else target/release/noisescope (built if missing).
# Needs: xvfb mesa-vulkan-drivers libvulkan1 imagemagick (see ../shared/STACK.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-assets/screenshots/explorer.png}"
size="${2:-1280x720}"
shift $(($# > 2 ? 2 : $#))
# shellcheck source=tests/virtual_screen.sh
. tests/virtual_screen.sh
start_virtual_screen ":${SCREENSHOT_DISPLAY:-97}" "$size"
# Without a window manager there is no full screen: the window is made the
# screen's size instead, as presentation mode does where it cannot go full screen.
"$bin" explore --size "$size" "$@" &
app_pid=$!
# The first run streams in well under a second; the software rasteriser needs a few more.
sleep "${SCREENSHOT_WAIT_SECS:-10}"
import -window root "$out"
echo "saved $out"
