#!/usr/bin/env bash
# Installs the test OpenID provider (npm oidc-provider, pinned by ci/oidc/package-lock.json) into
# .tools/oidc, for tests/oauth.rs (which runs this itself when it is missing). Needs node + npm
# (20 or newer) and the npm registry on the first run only; later runs do nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="$ROOT/.tools/oidc"
if cmp -s "$ROOT/ci/oidc/package-lock.json" "$DEST/package-lock.json" \
  && [ -f "$DEST/node_modules/oidc-provider/package.json" ]; then
  exit 0
fi
mkdir -p "$DEST"
cp "$ROOT/ci/oidc/package.json" "$ROOT/ci/oidc/package-lock.json" "$DEST/"
cd "$DEST"
npm ci --no-audit --no-fund --loglevel=error
