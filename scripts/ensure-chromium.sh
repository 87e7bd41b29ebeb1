#!/usr/bin/env bash
# Make Debian's Chromium available for the test of the benchmark's HTML report
# (tests/bench/test_report_browser.py). Installs it with apt-get when we may (root, or
# password-less sudo); otherwise says so: that test then skips on a user's machine and
# fails under CI=true.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
command -v chromium-browser >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing chromium with apt-get (for the HTML report's test)..."
    $SUDO apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null && exit 0
  fi
fi
echo "note: chromium is not installed and could not be installed; the HTML report's" \
     "browser test will skip (and fail under CI=true)." >&2
exit 0
