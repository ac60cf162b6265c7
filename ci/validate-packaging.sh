#!/usr/bin/env bash
# Validates the packaging files with the official validators:
#   - manifest.json  with `mcpb validate` (npm @anthropic-ai/mcpb, strict MCPB schema);
#   - skill.md       with the Agent Skills reference validator (PyPI skills-ref, CLI `agentskills`),
#                    as <tmp>/cancel-message-batch/SKILL.md, the way Claude Code installs it;
#   - manifest.json's version equals Cargo.toml's; its tools and prompts, server.json's tools and
#     the README's Tools table are exactly what the built binary serves (tools/list and
#     prompts/list, read with the official MCP Python SDK: ci/packaging/served_tools.py);
#   - the example client configs are valid JSON.
# The validators are installed once, at pinned versions, under .tools/ (gitignored): npm with
# --prefix .tools/npm, pip into the venv .tools/venv. Needs node + npm (20 or newer) and python3
# (3.11 or newer, with venv), and network to the npm registry and PyPI on the first run only.
# Exits non-zero on the first failure.
set -euo pipefail

MCPB_VERSION="2.1.2"        # npm @anthropic-ai/mcpb; checked to run on Node 20
SKILLS_REF_VERSION="0.1.1"  # PyPI skills-ref; its CLI is `agentskills`
MCP_SDK_VERSION="2.3.0"     # PyPI mcp, the official Python SDK: lists what the binary serves
SKILL_NAME="cancel-message-batch"
# The tools and prompts are the binary's own (tools/list, prompts/list), never a list kept here.
BIN="${MSGBATCH_BIN:-target/debug/msgbatch-mcp}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
MCPB="$TOOLS/npm/node_modules/.bin/mcpb"
VENV="$TOOLS/venv"
AGENTSKILLS="$VENV/bin/agentskills"

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: $2"; }
need node "install Node.js 20 or newer"
need npm "install npm (it comes with Node.js)"
need python3 "install Python 3.11 or newer"

step "Tools"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "Node $(node --version) is too old: @anthropic-ai/mcpb $MCPB_VERSION is checked on Node 20 or newer"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || fail "Python $(python3 --version 2>&1) is too old: need 3.11 or newer (tomllib)"
ok "node $(node --version), npm $(npm --version), $(python3 --version 2>&1)"

installed_mcpb="$(node -p "try { require('$TOOLS/npm/node_modules/@anthropic-ai/mcpb/package.json').version } catch (e) { '' }")"
if [ "$installed_mcpb" != "$MCPB_VERSION" ]; then
  echo "    installing @anthropic-ai/mcpb@$MCPB_VERSION into .tools/npm"
  mkdir -p "$TOOLS/npm"
  npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/mcpb@$MCPB_VERSION" >/dev/null \
    || fail "npm could not install @anthropic-ai/mcpb@$MCPB_VERSION (is the npm registry reachable?)"
fi
[ "$("$MCPB" --version)" = "$MCPB_VERSION" ] || fail "$MCPB does not report version $MCPB_VERSION"
ok "mcpb $MCPB_VERSION (.tools/npm)"

if [ ! -x "$VENV/bin/python" ]; then
  echo "    creating the venv .tools/venv"
  python3 -m venv "$VENV" \
    || fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
installed_skills_ref="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("skills-ref"))' 2>/dev/null || true)"
if [ "$installed_skills_ref" != "$SKILLS_REF_VERSION" ]; then
  echo "    installing skills-ref==$SKILLS_REF_VERSION into .tools/venv"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet \
    "skills-ref==$SKILLS_REF_VERSION" \
    || fail "pip could not install skills-ref==$SKILLS_REF_VERSION (is PyPI reachable?)"
fi
[ -x "$AGENTSKILLS" ] || fail "skills-ref $SKILLS_REF_VERSION did not install its agentskills command"
ok "skills-ref $SKILLS_REF_VERSION (.tools/venv, CLI agentskills)"
installed_mcp="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)"
if [ "$installed_mcp" != "$MCP_SDK_VERSION" ]; then
  echo "    installing mcp==$MCP_SDK_VERSION into .tools/venv"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet "mcp==$MCP_SDK_VERSION" \
    || fail "pip could not install mcp==$MCP_SDK_VERSION (is PyPI reachable?)"
fi
ok "mcp $MCP_SDK_VERSION (.tools/venv, the official Python SDK)"
[ -x "$BIN" ] || cargo build --locked --bin msgbatch-mcp || fail "cargo build failed"

step "manifest.json: mcpb validate (strict MCPB schema)"
"$MCPB" validate manifest.json || fail "mcpb validate manifest.json"
ok "manifest.json is a valid MCPB manifest"

step "manifest.json: version, tools and prompts"
cargo_version="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')"
manifest_version="$(node -p 'require("./manifest.json").version')"
[ "$manifest_version" = "$cargo_version" ] \
  || fail "manifest.json version $manifest_version differs from Cargo.toml version $cargo_version: make them equal"
ok "manifest version $manifest_version = Cargo.toml version $cargo_version"
served_json="$("$VENV/bin/python" ci/packaging/served_tools.py "$BIN")" \
  || fail "could not list what $BIN serves (ci/packaging/served_tools.py)"
TOOL_NAMES="$(node -e 'console.log(JSON.parse(process.argv[1]).tools.map(t => t.name).sort().join(" "))' "$served_json")"
PROMPT_NAMES="$(node -e 'console.log(JSON.parse(process.argv[1]).prompts.sort().join(" "))' "$served_json")"
ok "$BIN serves tools [$TOOL_NAMES], prompts [$PROMPT_NAMES]"
manifest_tools="$(node -p 'require("./manifest.json").tools.map(t => t.name).sort().join(" ")')"
[ "$manifest_tools" = "$TOOL_NAMES" ] \
  || fail "manifest.json lists tools [$manifest_tools], the binary serves [$TOOL_NAMES]"
ok "manifest tools: $manifest_tools"
manifest_prompts="$(node -p '(require("./manifest.json").prompts || []).map(p => p.name).sort().join(" ")')"
[ "$manifest_prompts" = "$PROMPT_NAMES" ] \
  || fail "manifest.json lists prompts [$manifest_prompts], the binary serves [$PROMPT_NAMES]"
ok "manifest prompts: $manifest_prompts"
registry_tools="$(node -p '(require("./server.json")._meta?.["io.modelcontextprotocol.registry/publisher-provided"]?.tools || []).map(t => t.name + "=" + t.title).sort().join(" ")')"
served_titled="$(node -e 'console.log(JSON.parse(process.argv[1]).tools.map(t => t.name + "=" + t.title).sort().join(" "))' "$served_json")"
[ "$registry_tools" = "$served_titled" ] \
  || fail "server.json (_meta publisher-provided tools) lists [$registry_tools], the binary serves [$served_titled]"
ok "server.json tools and titles: the binary's"
readme_tools="$(python3 - <<'PY'
import re
text = open("README.md", encoding="utf-8").read()
section = text.split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
rows = [l for l in section.splitlines() if l.startswith("|")][2:]
names = []
for row in rows:
    m = re.match(r"\|\s*`([a-z_]+)`", row)
    if m:
        names.append(m.group(1))
print(" ".join(sorted(names)))
PY
)"
[ "$readme_tools" = "$TOOL_NAMES" ] \
  || fail "README's Tools table lists [$readme_tools], the binary serves [$TOOL_NAMES]"
ok "README Tools table: $readme_tools"

step "skill.md: agentskills validate, as $SKILL_NAME/SKILL.md"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/$SKILL_NAME"
cp skill.md "$tmp/$SKILL_NAME/SKILL.md"
"$AGENTSKILLS" validate "$tmp/$SKILL_NAME" || fail "skill.md is not a valid Agent Skill"
"$AGENTSKILLS" read-properties "$tmp/$SKILL_NAME" >"$tmp/properties.json" \
  || fail "agentskills could not read skill.md's properties"
python3 - "$tmp/properties.json" "$SKILL_NAME" <<'EOF' || fail "skill.md's frontmatter"
import json, sys
props = json.load(open(sys.argv[1]))
assert props["name"] == sys.argv[2], f"name is {props['name']!r}, expected {sys.argv[2]!r}"
print(f"    ok: name {props['name']}, description {len(props['description'])}/1024 chars, "
      f"keys {', '.join(sorted(props))}")
EOF

step "examples/*.json: valid JSON"
for f in examples/*.json; do
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f" \
    || fail "$f is not valid JSON"
  ok "$f"
done

printf '\nPackaging checks passed: manifest (mcpb %s), skill (skills-ref %s), version %s, tools as served (mcp %s), examples.\n' \
  "$MCPB_VERSION" "$SKILLS_REF_VERSION" "$cargo_version" "$MCP_SDK_VERSION"
