#!/usr/bin/env bash
# ensure-apt.sh PACKAGE WHAT PROBE...: install Debian's PACKAGE with apt-get unless one of
# the PROBEs (a file path or a command name) is already there. Installs when we may (root,
# or password-less sudo); otherwise says so: the tests that need it (WHAT) then skip on a
# user's machine and fail under CI=true. Never fails itself.
set -u
package=$1; what=$2; shift 2
for probe in "$@"; do
  { [ -e "$probe" ] || command -v "$probe" >/dev/null 2>&1; } && exit 0
done
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing $package with apt-get ($what)..."
    $SUDO apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null && exit 0
  fi
fi
echo "note: $package is not installed and could not be installed; $what will skip" \
     "(and fail under CI=true)." >&2
exit 0
