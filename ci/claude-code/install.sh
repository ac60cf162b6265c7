#!/usr/bin/env bash
# Installs the current Claude Code (`@anthropic-ai/claude-code@latest` from npm, never a version
# a lockfile kept) into .tools/claude-code, and prints its version. Re-installs only when npm's
# latest differs from the installed one, so a change in how Claude Code offers tools is seen the
# day it ships. CLAUDE_CODE_VERSION=x.y.z pins one instead (to bisect a regression).
#
# The package is a thin wrapper whose postinstall copies a native binary out of the matching
# optional dependency (@anthropic-ai/claude-code-linux-x64, also from npm): nothing is fetched
# from anywhere but the npm registry, at install time or at run time. Needs npm; the wrapper's
# postinstall runs on Node 20 (the package says >=22, but Node only runs the postinstall).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="$ROOT/.tools/claude-code"
PKG="@anthropic-ai/claude-code"
CLAUDE="$PREFIX/node_modules/.bin/claude"

command -v npm >/dev/null || { echo "install.sh: npm is not installed" >&2; exit 1; }
wanted="${CLAUDE_CODE_VERSION:-$(npm view "$PKG@latest" version 2>/dev/null || true)}"
[ -n "$wanted" ] || { echo "install.sh: npm could not tell $PKG's latest version (is the npm registry reachable?)" >&2; exit 1; }
installed="$(node -p "try { require('$PREFIX/node_modules/$PKG/package.json').version } catch (e) { '' }" 2>/dev/null || true)"
if [ "$installed" != "$wanted" ] || [ ! -x "$CLAUDE" ]; then
  echo "installing $PKG@$wanted into .tools/claude-code (was: ${installed:-none})" >&2
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --no-save "$PKG@$wanted" >&2
fi
got="$("$CLAUDE" --version)"
case "$got" in
  "$wanted "*) ;;
  *) echo "install.sh: $CLAUDE reports '$got', expected $wanted" >&2; exit 1 ;;
esac
echo "$got"
