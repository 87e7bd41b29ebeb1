#!/usr/bin/env bash
# NIST md-eval-22.pl (Debian package sctk), for the scorer's conformance tests.
exec bash "$(dirname "$0")/ensure-apt.sh" sctk "the md-eval conformance tests" \
  /usr/lib/sctk/bin/md-eval.pl /usr/share/sctk/bin/md-eval.pl
