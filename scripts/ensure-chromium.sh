#!/usr/bin/env bash
# Debian's Chromium, for the test of the benchmark's HTML report
# (tests/bench/test_report_browser.py).
exec bash "$(dirname "$0")/ensure-apt.sh" chromium "the HTML report's browser test" \
  chromium chromium-browser
