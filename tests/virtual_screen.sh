# Sourced by tests/screenshot.sh and tests/playback.sh: the explorer's binary,
# and a virtual screen (Xvfb) with a fresh runtime folder and session, so the
# window opens as a first start would. Everything is removed on exit, and the
# app too once the caller has put its pid in app_pid.

# The binary: $NOISESCOPE_BIN, else target/release/noisescope (built if missing).
bin="${NOISESCOPE_BIN:-target/release/noisescope}"
if [ ! -x "$bin" ]; then
    cargo build --release
fi

# start_virtual_screen DISPLAY WIDTHxHEIGHT
start_virtual_screen() {
    Xvfb "$1" -screen 0 "${2}x24" >/dev/null 2>&1 &
    xvfb_pid=$!
    app_pid=""
    scratch="$(mktemp -d)"
    chmod 700 "$scratch"
    trap stop_virtual_screen EXIT
    export DISPLAY="$1" XDG_RUNTIME_DIR="$scratch" NOISESCOPE_SESSION="$scratch/session.lesson"
    sleep 1
}

stop_virtual_screen() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    # Until the display is free again, so that a next run can open it.
    wait "$xvfb_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
