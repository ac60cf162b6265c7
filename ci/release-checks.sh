#!/usr/bin/env bash
# CI: what a release needs that cannot run here, checked offline.
#   1. .github/workflows/*.yml: `check-jsonschema --builtin-schema vendor.github-workflows` (the
#      schema GitHub's workflow syntax follows) and `zizmor --offline` (security audit: pinned
#      actions, permissions, template injection, credentials left in checkouts, cache poisoning);
#   2. server.json (MCP Registry entry) against the registry's published schema, kept in
#      schemas/server.schema.json (source noted in schemas/README.md), with check-jsonschema;
#   3. the crate: `cargo package --list` holds only what belongs (src/, the README, changelog,
#      licences, skill.md: no tests, benches, fixtures or scripts), and `cargo publish --dry-run
#      --locked` packs it and builds the packed crate, as `cargo install msgbatch-mcp` will.
# Tools come pinned from PyPI into .tools/pyci (ci/python-tools.sh). Prints each step's time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'; }
step() { printf '\n==> %s\n' "$*"; }

t0="$(now)"
step "Tools (pinned, PyPI)"
BIN="$(bash ci/python-tools.sh)"
echo "    check-jsonschema $("$BIN/python" -c 'import importlib.metadata as m; print(m.version("check-jsonschema"))'), $("$BIN/zizmor" --version) ($(since "$t0"))"

step "Workflows: check-jsonschema --builtin-schema vendor.github-workflows, zizmor --offline"
t="$(now)"
workflows=(.github/workflows/*.yml)
[ -f "${workflows[0]}" ] || fail "no workflow in .github/workflows"
"$BIN/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" \
  || fail "a workflow does not follow GitHub's workflow schema"
"$BIN/zizmor" --offline --no-progress --persona=regular "${workflows[@]}" \
  || fail "zizmor found problems in the workflows (see above; https://docs.zizmor.sh/audits/)"
# The release builds its wheels with the maturin and zig that CI's wheel was built and tested with.
for tool in maturin ziglang; do
  pinned="$(sed -n "s/^$tool==\([^ ]*\).*/\1/p" ci/python-tools.txt)"
  var="$(printf '%s' "$tool" | tr a-z A-Z)_VERSION"
  in_release="$(sed -n "s/^  $var: v\{0,1\}\([^ ]*\)$/\1/p" .github/workflows/release.yml)"
  [ -n "$pinned" ] && [ "$pinned" = "$in_release" ] \
    || fail "release.yml's $var is '$in_release', ci/python-tools.txt pins $tool==$pinned: make them equal"
done
echo "    ok: ${workflows[*]}; release.yml uses maturin and zig at CI's pins ($(since "$t"))"

step "server.json: the MCP Registry's schema (schemas/server.schema.json)"
t="$(now)"
"$BIN/python" - <<'PY' || fail "server.json's \$schema is not the schema kept in schemas/"
import json
schema = json.load(open("schemas/server.schema.json"))["$id"]
named = json.load(open("server.json"))["$schema"]
assert named == schema, f"server.json names {named}, schemas/server.schema.json is {schema}"
print(f"    $schema: {named}")
PY
"$BIN/check-jsonschema" --schemafile schemas/server.schema.json server.json \
  || fail "server.json does not validate against the registry's schema"
echo "    ok ($(since "$t"))"

step "The crate: cargo package --list, cargo publish --dry-run --locked"
t="$(now)"
dirty=()
[ "${CI:-}" = true ] || dirty=(--allow-dirty) # a developer's uncommitted work; CI's clone is clean
files="$(cargo package --list --locked "${dirty[@]}")" || fail "cargo package --list"
unexpected="$(printf '%s\n' "$files" | grep -Ev '^(src/.*|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json|README\.md|CHANGELOG\.md|LICENSE-MIT|LICENSE-APACHE|skill\.md)$' || true)"
[ -z "$unexpected" ] || fail "the crate would ship files that do not belong (fix include in Cargo.toml): $unexpected"
for needed in Cargo.lock src/main.rs README.md skill.md LICENSE-MIT LICENSE-APACHE; do
  printf '%s\n' "$files" | grep -qx "$needed" || fail "the crate lacks $needed"
done
echo "    $(printf '%s\n' "$files" | wc -l) files, none outside src/ but the manifest, lock file, README, changelog, licences and skill.md"
# Verifying builds the packed crate (dev profile, no dev-dependencies) in target/: its
# dependencies are the ones `cargo build --bin msgbatch-mcp` (ci/official-sdks.sh) has
# built already, so only the crate itself compiles here.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cargo publish --dry-run --locked "${dirty[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  fail "cargo publish --dry-run --locked"
fi
# The tests and benches stay in the repository on purpose (see include in Cargo.toml).
grep -v '^warning: ignoring \(test\|benchmark\|example\) .* is not included in the published package$' "$log" \
  | sed 's/^/    /' || true
echo "    ok: the packed crate builds ($(since "$t"))"

printf '\nRelease checks passed in %s: workflows, server.json, crate.\n' "$(since "$t0")"
