#!/usr/bin/env bash
# Opens a flowgraph in gnuradio-companion on a private virtual X server (Xvfb) and saves a PNG
# of GRC's window:  scripts/grc_screenshot.sh examples/phy_loopback.grc docs/figures/grc.png
# Needs xvfb, xdotool and imagemagick (make setup installs them). Your GRC settings are not
# touched (GRC_PREFS_PATH points at a throw-away file). Optional: GRC_SHOT_SIZE=WxH (window
# size, default 1920x1080), GRC_SHOT_WAIT=seconds to let GRC draw after its window appears
# (default 3), GRC_SHOT_SEARCH=text typed into GRC's block search so that the library panel
# shows those blocks (default semdacom: the module's categories; empty: no search),
# GRC_SHOT_ZOOM_OUT=N zoom-out steps (Ctrl+minus) so that a large flowgraph fits (default 0),
# GRC_SHOT_CROP=WxH+X+Y the part of the window to keep (default: all of it).
# The figures in docs/figures were made with:
#   GRC_SHOT_ZOOM_OUT=3 scripts/grc_screenshot.sh examples/sfma_loopback.grc \
#     docs/figures/grc_sfma_loopback.png
#   GRC_SHOT_SIZE=2400x1080 GRC_SHOT_ZOOM_OUT=3 scripts/grc_screenshot.sh \
#     examples/mu_ascc_loopback.grc docs/figures/grc_mu_ascc_loopback.png
#   GRC_SHOT_SIZE=4000x1150 GRC_SHOT_ZOOM_OUT=3 GRC_SHOT_SEARCH= GRC_SHOT_CROP=3240x690+0+64 \
#     scripts/grc_screenshot.sh examples/mu_ascc_ota_sim.grc docs/figures/grc_mu_ascc_ota_sim.png
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 <file.grc> <out.png>" >&2
  exit 2
fi
grc_file=$(realpath "$1")
out=$(realpath -m "$2")
size=${GRC_SHOT_SIZE:-1920x1080}
wait_s=${GRC_SHOT_WAIT:-3}
search=${GRC_SHOT_SEARCH-semdacom}
zoom_out=${GRC_SHOT_ZOOM_OUT:-0}
crop=${GRC_SHOT_CROP:-}
for tool in Xvfb xdotool import gnuradio-companion; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (run make setup)" >&2; exit 1; }
done
[ -f "$grc_file" ] || { echo "$0: no such file: $1" >&2; exit 1; }

tmp=$(mktemp -d)
xvfb_pid=""
grc_pid=""
cleanup() {
  if [ -n "$grc_pid" ]; then kill "$grc_pid" 2>/dev/null || true; wait "$grc_pid" 2>/dev/null || true; fi
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Xvfb picks a free display number and writes it to fd 3
exec 3>"$tmp/display"
Xvfb -displayfd 3 -screen 0 "${size}x24" -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
exec 3>&-
for _ in $(seq 100); do
  [ -s "$tmp/display" ] && break
  sleep 0.1
done
[ -s "$tmp/display" ] || { echo "$0: Xvfb did not start:" >&2; cat "$tmp/xvfb.log" >&2; exit 1; }
export DISPLAY=":$(head -1 "$tmp/display")"

width=${size%x*}
height=${size#*x}
cat >"$tmp/grc.conf" <<EOF
[main]
main_window_width = $width
main_window_height = $height
EOF
GRC_PREFS_PATH="$tmp/grc.conf" NO_AT_BRIDGE=1 gnuradio-companion "$grc_file" >"$tmp/grc.log" 2>&1 &
grc_pid=$!

title="^$(basename "$grc_file") - "
wid=""
for _ in $(seq 300); do
  wid=$(xdotool search --name "$title" 2>/dev/null | head -1 || true)
  [ -n "$wid" ] && break
  kill -0 "$grc_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$wid" ]; then
  echo "$0: no GRC window for $grc_file; GRC said:" >&2
  cat "$tmp/grc.log" >&2
  exit 1
fi
xdotool windowmove "$wid" 0 0 windowsize "$wid" "$width" "$height" 2>/dev/null || true
sleep 1
xdotool windowfocus --sync "$wid" 2>/dev/null || true
for _ in $(seq "$zoom_out"); do
  xdotool key --window "$wid" ctrl+minus
  sleep 0.2
done
if [ -n "$search" ]; then
  # GRC's block search (Ctrl+F) filters the library panel and expands the matching categories
  xdotool key --window "$wid" ctrl+f
  sleep 0.5
  xdotool type --delay 30 "$search"
fi
sleep "$wait_s"
mkdir -p "$(dirname "$out")"
import -window root -crop "${crop:-${width}x${height}+0+0}" +repage "$out"
if grep -qiE "error|traceback|failed" "$tmp/grc.log"; then
  echo "$0: warning: GRC reported problems while loading:" >&2
  cat "$tmp/grc.log" >&2
fi
echo "wrote $out"
