#!/usr/bin/env bash
# Installs the pinned PyPI tools of ci/python-tools.txt into .tools/pyci (a venv, gitignored)
# unless that list is already installed there, and prints the venv's bin directory.
# Source-free: `bin="$(bash ci/python-tools.sh)"`. Needs python3 (3.9+) with venv, and PyPI
# on the first run only. Progress goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/pyci"
LIST="$ROOT/ci/python-tools.txt"
STAMP="$VENV/installed-python-tools.txt"

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || fail "python3 is not installed"
if [ ! -f "$STAMP" ] || ! cmp -s "$LIST" "$STAMP"; then
  echo "    installing $(grep -c '==' "$LIST") pinned PyPI tools into .tools/pyci" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet -r "$LIST" >&2 \
    || fail "pip could not install ci/python-tools.txt (is PyPI reachable?)"
  cp "$LIST" "$STAMP"
fi
echo "$VENV/bin"
