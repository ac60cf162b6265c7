#!/usr/bin/env bash
# Builds msgbatch-mcp.mcpb, the MCP Bundle that Claude Desktop installs in one click:
#   1. scripts/validate-packaging.sh (installs the pinned mcpb CLI into .tools/ and checks
#      manifest.json, skill.md and the version);
#   2. cargo build --release (--locked when Cargo.lock exists);
#   3. stages dist/mcpb/ = manifest.json + server/msgbatch-mcp[.exe], with the manifest's
#      compatibility.platforms narrowed to this machine's platform (the bundle holds one
#      native binary);
#   4. `mcpb pack dist/mcpb msgbatch-mcp.mcpb`, then reads it back: `mcpb info`, `mcpb unpack`,
#      `mcpb validate` on the unpacked manifest, and a byte comparison of the binary.
# The bundle runs only on the OS and CPU it was built on: build it on each platform to ship.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN_NAME="msgbatch-mcp"
STAGE="$ROOT/dist/mcpb"
OUT="$ROOT/msgbatch-mcp.mcpb"
MCPB="$ROOT/.tools/npm/node_modules/.bin/mcpb"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
command -v cargo >/dev/null 2>&1 || fail "cargo is not installed (https://rustup.rs)"

step "Validating the packaging files"
bash "$ROOT/scripts/validate-packaging.sh"

case "$(uname -s)" in
  Linux) platform=linux; exe="" ;;
  Darwin) platform=darwin; exe="" ;;
  MINGW* | MSYS* | CYGWIN*) platform=win32; exe=".exe" ;;
  *) fail "unknown platform $(uname -s): expected Linux, Darwin or Windows (Git Bash/MSYS)" ;;
esac

step "Building the release binary ($platform, $(uname -m))"
locked=""
[ -f Cargo.lock ] && locked="--locked"
cargo build --release ${locked:+"$locked"} --bin "$BIN_NAME" \
  || fail "cargo build --release $locked failed${locked:+ (if Cargo.lock is out of date, run cargo build once and commit Cargo.lock)}"
metadata="$(cargo metadata --format-version 1 --no-deps)"
from_metadata() { # a JavaScript expression over the metadata `m`
  printf '%s' "$metadata" | node -e \
    'let s = ""; process.stdin.on("data", d => s += d).on("end", () => { const m = JSON.parse(s); console.log(eval(process.argv[1])) })' "$1"
}
target_dir="$(from_metadata 'm.target_directory')"
binary="$target_dir/release/$BIN_NAME$exe"
[ -f "$binary" ] || fail "the build left no binary at $binary"

step "Checking versions"
cargo_version="$(from_metadata "m.packages.find(p => p.name === '$BIN_NAME').version")"
manifest_version="$(node -p 'require("./manifest.json").version')"
[ "$cargo_version" = "$manifest_version" ] \
  || fail "manifest.json version $manifest_version differs from Cargo.toml version $cargo_version"
echo "    ok: $BIN_NAME $cargo_version"

step "Staging dist/mcpb"
rm -rf "$STAGE"
mkdir -p "$STAGE/server"
cp "$binary" "$STAGE/server/$BIN_NAME$exe"
chmod 755 "$STAGE/server/$BIN_NAME$exe"
node -e '
  const fs = require("fs");
  const [src, dst, platform] = process.argv.slice(1);
  const m = JSON.parse(fs.readFileSync(src, "utf8"));
  m.compatibility = { ...(m.compatibility || {}), platforms: [platform] };
  fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
' manifest.json "$STAGE/manifest.json" "$platform"
echo "    manifest.json (compatibility.platforms = [\"$platform\"])"
echo "    server/$BIN_NAME$exe"

step "Packing with mcpb $("$MCPB" --version)"
rm -f "$OUT"
"$MCPB" pack "$STAGE" "$OUT" || fail "mcpb pack failed"
[ -f "$OUT" ] || fail "mcpb pack wrote no $OUT"

step "Reading the bundle back"
"$MCPB" info "$OUT" || fail "mcpb info could not read $OUT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$MCPB" unpack "$OUT" "$tmp/unpacked" >/dev/null || fail "mcpb unpack could not open $OUT"
"$MCPB" validate "$tmp/unpacked/manifest.json" >/dev/null \
  || fail "the manifest inside $OUT does not validate"
echo "    ok: the manifest inside validates"
packed="$tmp/unpacked/server/$BIN_NAME$exe"
cmp -s "$binary" "$packed" || fail "server/$BIN_NAME$exe inside the bundle differs from $binary"
[ "$platform" = win32 ] || [ -x "$packed" ] || fail "server/$BIN_NAME inside the bundle is not executable"
echo "    ok: server/$BIN_NAME$exe is the built binary, byte for byte"

printf '\nBuilt %s (%s)\n' "$(basename "$OUT")" "$platform"
ls -l "$OUT" "$binary"
echo "Install: double-click it, or drop it on Claude Desktop's Settings > Extensions page."
