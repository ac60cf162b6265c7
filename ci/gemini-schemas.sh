#!/usr/bin/env bash
# Checks every tool's live inputSchema with Google's official Gen AI SDK (PyPI google-genai,
# pinned), whose FunctionDeclaration model refuses what Gemini refuses offline: type arrays,
# $ref/$defs, $schema and unknown keywords (issue 14). Installs into .tools/genai (gitignored);
# needs python3 (3.10+, with venv) and PyPI on the first run only.
set -euo pipefail

GENAI_VERSION="3.3.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.tools/genai"

echo "== tool schemas: Google's google-genai SDK accepts every inputSchema (issue 14)"

if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("google-genai"))' 2>/dev/null || true)" != "$GENAI_VERSION" ]; then
  echo "    installing google-genai==$GENAI_VERSION into .tools/genai"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet "google-genai==$GENAI_VERSION"
fi

cargo build --locked --quiet --bin msgbatch-mcp
"$VENV/bin/python" ci/check_gemini_schemas.py "${CARGO_TARGET_DIR:-target}/debug/msgbatch-mcp"
