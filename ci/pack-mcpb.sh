#!/usr/bin/env bash
# Builds msgbatch-mcp.mcpb, the MCP Bundle that Claude Desktop installs in one click:
#   1. ci/validate-packaging.sh (installs the pinned mcpb CLI into .tools/ and checks
#      manifest.json, skill.md and the version);
#   2. cargo build --release (--locked when Cargo.lock exists);
#   3. stages dist/mcpb/ = manifest.json + server/msgbatch-mcp[.exe], with the manifest's
#      compatibility.platforms narrowed to this machine's platform (the bundle holds one
#      native binary);
#   4. `mcpb pack dist/mcpb msgbatch-mcp.mcpb`, then reads it back: `mcpb info`, `mcpb unpack`,
#      `mcpb validate` on the unpacked manifest, and a byte comparison of the binary.
# The bundle runs only on the OS and CPU it was built on: build it on each platform to ship.
#
# The release workflow packs every platform's bundle on Linux, from the binary in that
# platform's wheel, with these (all three or none):
#   MCPB_BINARY=path/to/msgbatch-mcp[.exe]  use this binary; skip step 2
#   MCPB_PLATFORM=linux|darwin|win32        the platform it runs on (win32: server/msgbatch-mcp.exe,
#                                            and the manifest's entry_point names it)
#   MCPB_OUT=path/to/name.mcpb              where to write the bundle
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN_NAME="msgbatch-mcp"
STAGE="$ROOT/dist/mcpb"
OUT="${MCPB_OUT:-$ROOT/msgbatch-mcp.mcpb}"
MCPB="$ROOT/.tools/npm/node_modules/.bin/mcpb"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "Validating the packaging files"
bash "$ROOT/ci/validate-packaging.sh"

if [ -n "${MCPB_BINARY:-}" ]; then
  [ -n "${MCPB_PLATFORM:-}" ] && [ -n "${MCPB_OUT:-}" ] \
    || fail "MCPB_BINARY needs MCPB_PLATFORM (linux, darwin or win32) and MCPB_OUT"
  platform="$MCPB_PLATFORM"
  case "$platform" in
    linux | darwin) exe="" ;;
    win32) exe=".exe" ;;
    *) fail "MCPB_PLATFORM=$platform: expected linux, darwin or win32" ;;
  esac
  binary="$MCPB_BINARY"
  [ -f "$binary" ] || fail "MCPB_BINARY=$binary is not a file"
  step "Using the prebuilt binary $binary ($platform)"
else
  command -v cargo >/dev/null 2>&1 || fail "cargo is not installed (https://rustup.rs)"
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
  target_dir="$(cargo metadata --format-version 1 --no-deps \
    | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).target_directory))')"
  binary="$target_dir/release/$BIN_NAME$exe"
  [ -f "$binary" ] || fail "the build left no binary at $binary"
fi

step "Checking versions"
cargo_version="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')"
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
  const [src, dst, platform, entry] = process.argv.slice(1);
  const m = JSON.parse(fs.readFileSync(src, "utf8"));
  m.compatibility = { ...(m.compatibility || {}), platforms: [platform] };
  m.server.entry_point = entry;
  fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
' manifest.json "$STAGE/manifest.json" "$platform" "server/$BIN_NAME$exe"
echo "    manifest.json (compatibility.platforms = [\"$platform\"], entry_point server/$BIN_NAME$exe)"
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
[ "$exe" = .exe ] || [ -x "$packed" ] || fail "server/$BIN_NAME inside the bundle is not executable"
echo "    ok: server/$BIN_NAME$exe is the built binary, byte for byte"

printf '\nBuilt %s (%s)\n' "$OUT" "$platform"
ls -l "$OUT" "$binary"
echo "Install: double-click it, or drop it on Claude Desktop's Settings > Extensions page."
