#!/usr/bin/env bash
# Renders the HTML report in headless Chromium and saves screenshots, to look at the page
# the way a user does (labels readable, nothing overlapping, numbers formatted).
#
#   scripts/screenshot-report.sh [PAGE.html] [OUT_DIR]
#
# Without PAGE, builds the demo workspace in target/report-shot/demo (reelhouse demo) and
# shoots its report/index.html. Installs Debian's chromium when it is missing (root).
# Writes OUT_DIR/top.png (first screen, 1280x900) and OUT_DIR/full.png (the whole page).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[screenshot]\033[0m %s\n' "$*" >&2; }

if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

page="${1:-}"
out="${2:-target/report-shot}"
mkdir -p "$out"
if [ -z "$page" ]; then
  [ -x target/release/reelhouse ] || cargo build --release --workspace
  log "building the demo workspace in $out/demo"
  target/release/reelhouse --no-progress demo --dir "$out/demo" >/dev/null
  page="$out/demo/report/index.html"
fi
page="$(realpath "$page")"

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
shoot() { # file width height
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$2,$3" --screenshot="$1" "file://$page" >/dev/null 2>&1
}
shoot "$out/top.png" 1280 900
# The full page: tall enough for every section (about 900 px each).
shoot "$out/full.png" 1280 9000
log "wrote $out/top.png and $out/full.png from $page"
