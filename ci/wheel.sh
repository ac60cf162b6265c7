#!/usr/bin/env bash
# CI: the path a user takes with `uvx msgbatch-mcp`, proved on the wheel CI builds.
#   1. builds the manylinux wheel the release workflow ships:
#      `maturin build --release --locked --zig --compatibility manylinux2014` (release profile:
#      LTO, one codegen unit, stripped; the same binary a user gets, not a lighter profile);
#   2. `twine check --strict` (the README renders on PyPI); `auditwheel show`: the wheel must meet manylinux_2_17 (glibc 2.17) or older;
#   3. a fresh environment with only Python and uv, no Rust on the PATH and no network:
#      `uv venv` + `uv pip install --offline --no-index <wheel>`, then `msgbatch-mcp --version`
#      (the crate's version) and `msgbatch-mcp demo` from there, and `uvx --offline --from
#      <wheel> msgbatch-mcp --version` (what `claude mcp add msgbatch -- uvx msgbatch-mcp` runs);
#   4. prints the wheel's name, tag and size, and each step's time.
# Tools (maturin, ziglang, uv, auditwheel, twine) come pinned from PyPI into .tools/pyci
# (ci/python-tools.sh). The wheel is left in target/wheels/. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/wheels"

fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'; }
step() { printf '\n==> %s\n' "$*"; }

t0="$(now)"
step "Tools (pinned, PyPI)"
BIN="$(bash ci/python-tools.sh)"
# The user's Python (the real interpreter, not a shim or the tools' venv).
python="$(python3 -c 'import sys; print(sys.executable)')"
# maturin finds zig as `python -m ziglang` through the python on the PATH: the venv's.
export PATH="$BIN:$PATH"
echo "    $(maturin --version), $(uv --version), auditwheel $("$BIN/python" -c 'import importlib.metadata as m; print(m.version("auditwheel"))'), zig $("$BIN/python" -m ziglang version) ($(since "$t0"))"

version="$("$BIN/python" -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')"

step "Build: maturin build --release --locked --zig --compatibility manylinux2014"
t="$(now)"
rm -rf "$OUT"
# As the release workflow builds it: no developer RUSTFLAGS (a mold link-arg would reach zig).
env -u RUSTFLAGS maturin build --release --locked --zig --compatibility manylinux2014 --out "$OUT" \
  || fail "maturin build"
shopt -s nullglob
wheels=("$OUT"/*.whl)
[ "${#wheels[@]}" -eq 1 ] || fail "expected one wheel in $OUT, found ${#wheels[@]}"
wheel="${wheels[0]}"
name="$(basename "$wheel")"
case "$name" in
  msgbatch_mcp-"$version"-py3-none-*manylinux_2_17_x86_64*.whl) ;;
  *) fail "wheel $name: expected msgbatch_mcp-$version-py3-none-…manylinux_2_17_x86_64….whl" ;;
esac
build_time="$(since "$t")"
echo "    $name ($build_time)"

step "twine check --strict: metadata and README as PyPI will render them"
"$BIN/twine" check --strict "$wheel" || fail "twine check --strict $name"

step "auditwheel show"
t="$(now)"
audit="$(auditwheel show "$wheel")" || fail "auditwheel show $name"
echo "$audit" | sed 's/^/    /'
tag="$(printf '%s' "$audit" | tr -s ' \n' ' ' | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')"
[ -n "$tag" ] || fail "auditwheel named no platform tag"
glibc_minor="$(printf '%s' "$tag" | sed -n 's/^manylinux_2_\([0-9]*\)_x86_64$/\1/p')"
[ -n "$glibc_minor" ] && [ "$glibc_minor" -le 17 ] \
  || fail "auditwheel says $tag: the wheel needs a glibc newer than 2.17"
echo "    ok: $tag, glibc 2.$glibc_minor or newer suffices ($(since "$t"))"

step "A fresh environment with Python and uv only, offline: install the wheel, run it"
t="$(now)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Only uv, the Python interpreter and the system's tools: no cargo, no rustc, no network.
mkdir -p "$tmp/bin"
ln -s "$BIN/uv" "$tmp/bin/uv"
ln -s "$BIN/uvx" "$tmp/bin/uvx"
user_env=(env -i "HOME=$tmp/home" "PATH=$tmp/bin:/usr/bin:/bin" "UV_CACHE_DIR=$tmp/uv-cache"
  "UV_OFFLINE=1" "UV_NO_CONFIG=1" "UV_PYTHON_DOWNLOADS=never" "TMPDIR=$tmp")
mkdir -p "$tmp/home"
! "${user_env[@]}" sh -c 'command -v cargo || command -v rustc' >/dev/null \
  || fail "the fresh environment can see a Rust toolchain"
"${user_env[@]}" uv venv --quiet --python "$python" "$tmp/env" || fail "uv venv"
"${user_env[@]}" uv pip install --quiet --offline --no-index --python "$tmp/env/bin/python" "$wheel" \
  || fail "uv pip install --offline $name"
installed="$tmp/env/bin/msgbatch-mcp"
[ -x "$installed" ] || fail "the wheel installed no msgbatch-mcp command"
meta="$("$tmp/env/bin/python" -c 'import importlib.metadata as m; print(m.version("msgbatch-mcp"))')"
[ "$meta" = "$version" ] || fail "installed package version $meta, Cargo.toml says $version"

out="$("${user_env[@]}" "$installed" --version)" || fail "msgbatch-mcp --version"
[ "$out" = "msgbatch-mcp $version" ] || fail "msgbatch-mcp --version printed '$out'"
echo "    \$ msgbatch-mcp --version   ->   $out"

"${user_env[@]}" "$installed" demo >"$tmp/demo.out" 2>"$tmp/demo.err" \
  || { cat "$tmp/demo.out" "$tmp/demo.err" >&2; fail "msgbatch-mcp demo (installed from the wheel) failed"; }
grep -q 'ended' "$tmp/demo.out" || { cat "$tmp/demo.out" >&2; fail "the demo never showed the batch ended"; }
echo "    \$ msgbatch-mcp demo   ->   exit 0, $(wc -l <"$tmp/demo.out") lines; last: $(tail -n 1 "$tmp/demo.out")"

out="$("${user_env[@]}" uvx --offline --from "$wheel" msgbatch-mcp --version)" \
  || fail "uvx --offline --from $name msgbatch-mcp --version"
[ "$out" = "msgbatch-mcp $version" ] || fail "uvx … msgbatch-mcp --version printed '$out'"
echo "    \$ uvx --from $name msgbatch-mcp --version   ->   $out ($(since "$t"))"

size="$(stat -c %s "$wheel")"
printf '\nWheel: %s\n  tag %s (auditwheel), %s bytes (%.1f MiB); build %s; whole script %s\n' \
  "$name" "$tag" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$build_time" "$(since "$t0")"
