#!/usr/bin/env python3
"""Runs one scenario with the real Claude Code, offline, against the built msgbatch-mcp.

    python3 ci/claude-code/run.py ci/claude-code/scenarios/NAME.json [--bin PATH] [--out DIR]

What it does (README.md says how to write a scenario):
  1. starts `msgbatch-mcp mock` on a free loopback port (unless the scenario says "simulator":
     false) so the server has a Batches API to talk to;
  2. starts fake_model.py, which answers POST /v1/messages from the scenario's "turns" and
     records every request Claude Code makes;
  3. writes an MCP config naming the binary: stdio (Claude Code starts it) or, with
     "transport": "http", starts `msgbatch-mcp serve --http 127.0.0.1:0` and names its URL;
  4. runs `claude -p PROMPT` with ANTHROPIC_BASE_URL at the fake model, a fresh empty HOME (so no
     skill or setting of the machine's user is seen), --strict-mcp-config, and the scenario's
     settings/env/args;
  5. checks the scenario's "expect" list against what was recorded, writes summary.txt (what
     the model was offered: deferred tools, MCP instructions, skills; the tool calls and
     results), and exits 1 if any check failed.

Claude Code is the one ci/claude-code/install.sh put under .tools/claude-code (it installs
the latest from npm), or $CLAUDE_BIN. Nothing leaves loopback: Claude Code's nonessential traffic
is switched off and its model is the fake one.
"""

import argparse
import calendar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CLAUDE = os.path.join(ROOT, ".tools", "claude-code", "node_modules", ".bin", "claude")
SERVER = "msgbatch"  # the server's name in the MCP config: tools are mcp__msgbatch__<tool>


def fail(msg):
    print(f"run.py: {msg}", file=sys.stderr)
    sys.exit(2)


def wait_for_line(proc, pattern, what, timeout=20.0, sink=None):
    """Reads proc.stdout until a line matches pattern; returns the match. The rest of stdout is
    copied to sink in a thread, so the process never blocks on a full pipe."""
    found = {}
    done = threading.Event()

    def pump():
        for line in proc.stdout:
            if sink is not None:
                sink.write(line)
                sink.flush()
            if "m" not in found:
                m = re.search(pattern, line)
                if m:
                    found["m"] = m
                    done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    if not done.wait(timeout) or "m" not in found:
        proc.kill()
        fail(f"{what} did not start (no line matching {pattern!r} within {timeout:.0f} s)")
    return found["m"]


def fill(value, env):
    """{{NAME}} in strings of a scenario value, from env (RUN_DIR, BIN, MOCK_URL, ...)."""
    if isinstance(value, str):
        return re.sub(r"\{\{(\w+)\}\}", lambda m: str(env.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [fill(v, env) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, env) for k, v in value.items()}
    return value


def read_requests(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def block_text(block):
    sys.path.insert(0, HERE)
    from fake_model import text_of  # one definition of "the text of a block"

    return text_of(block)


class Recorded:
    """What Claude Code sent the model, read back from requests.jsonl."""

    def __init__(self, requests, final, run_dir):
        self.main = [r for r in requests if r.get("turn") is not None]
        self.all = requests
        self.final = final
        self.mcp = read_requests(os.path.join(run_dir, "mcp.jsonl"))
        debug = os.path.join(run_dir, "claude-debug.log")
        self.debug_log = open(debug, encoding="utf-8", errors="replace").read() if os.path.exists(debug) else ""
        server_log = os.path.join(run_dir, "server.stderr")
        self.server_log = open(server_log, encoding="utf-8", errors="replace").read() \
            if os.path.exists(server_log) else ""

    def first(self):
        return self.main[0]["body"] if self.main else {}

    def system_text(self):
        """The system prompt and the system-role messages of the first request: where Claude
        Code lists deferred tools, MCP servers' instructions and skills."""
        body = self.first()
        parts = [block_text(b) for b in body.get("system", [])] if isinstance(body.get("system"), list) \
            else [str(body.get("system", ""))]
        for m in body.get("messages", []):
            if m.get("role") == "system" or m.get("role") == "user":
                content = m.get("content")
                parts.append(block_text(content if isinstance(content, list) else [content]))
        return "\n".join(parts)

    def offered_tools(self):
        return [t.get("name") for t in self.first().get("tools", [])]

    def calls(self):
        """(turn, tool name, input, result block or None) for each tool_use the model made."""
        out = []
        results = {}
        for r in self.main:
            for m in r["body"].get("messages", []):
                content = m.get("content")
                if isinstance(content, list):
                    for b in content:
                        if isinstance(b, dict) and b.get("type") == "tool_result":
                            results[b.get("tool_use_id")] = b
        for r in self.main:
            for b in r.get("answer", []):
                if b.get("type") == "tool_use":
                    out.append((r["turn"], b["name"], b.get("input"), results.get(b["id"])))
        return out

    def where(self, spec):
        """The text a check looks at."""
        if spec == "system":
            return self.system_text()
        if spec == "tools":
            return "\n".join(self.offered_tools())
        if spec == "final":
            return self.final
        if spec == "requests":
            return "\n".join(json.dumps(r) for r in self.all)
        if spec == "mcp":  # the stdio wire, with "record_mcp": true: "c2s {json}" / "s2c {json}"
            return "\n".join(f"{e['dir']} {json.dumps(e['msg'])}" for e in self.mcp)
        if spec == "debug_log":
            return self.debug_log
        if spec == "server_log":  # HTTP: what `serve --http` wrote to stderr (RUST_LOG)
            return self.server_log
        if spec == "last_user_message":  # what reached the model last: e.g. a task notification
            messages = self.main[-1]["body"].get("messages", []) if self.main else []
            users = [m for m in messages if m.get("role") == "user"]
            content = users[-1].get("content") if users else ""
            return block_text(content if isinstance(content, list) else [content])
        kind, _, name = spec.partition(":")
        name, _, nth = name.partition("#")
        if kind in ("tool_result", "tool_references"):
            sys.path.insert(0, HERE)
            from fake_model import tool_references

            texts = []
            for _, called, _, result in self.calls():
                if (not name or called == name) and result is not None:
                    if kind == "tool_references":
                        texts.append("\n".join(tool_references(result)))
                    else:
                        flag = "[is_error]\n" if result.get("is_error") else ""
                        texts.append(flag + block_text(result))
            if nth:  # NAME#k: the k-th call only (1-based)
                k = int(nth)
                return texts[k - 1] if 0 < k <= len(texts) else ""
            return "\n----\n".join(texts)
        if kind == "called":
            return "\n".join(f"{n} {json.dumps(i)}" for _, n, i, _ in self.calls())
        raise ValueError(f"unknown 'where': {spec}")


def check(recorded, expectation):
    """(ok, message) for one entry of the scenario's "expect" list."""
    where = expectation.get("where", "system")
    text = recorded.where(where)
    negate = bool(expectation.get("not"))
    if "contains" in expectation:
        needle = expectation["contains"]
        hit = needle in text
        what = f"{where} {'does not contain' if negate else 'contains'} {needle!r}"
    elif "matches" in expectation:
        pattern = expectation["matches"]
        hit = re.search(pattern, text, re.S | re.M) is not None
        what = f"{where} {'does not match' if negate else 'matches'} /{pattern}/"
    elif "first_line" in expectation:
        lines = [line for line in text.splitlines() if line.strip()]
        hit = bool(lines) and lines[0] == expectation["first_line"]
        what = f"{where}: first is {expectation['first_line']!r} (got {lines[:5]})"
    else:
        raise ValueError(f"an expectation needs contains, matches or first_line: {expectation}")
    ok = hit != negate
    label = expectation.get("why", "")
    return ok, f"{'ok  ' if ok else 'FAIL'} {what}{(' — ' + label) if label else ''}"


def interactive_setup(env, home, project, scenario):
    """What an interactive Claude Code needs to start straight into the prompt: onboarding
    done, the project folder trusted, the (fake) API key approved, as a person who has used it
    before would have in ~/.claude.json. Its feature flags are those cached there
    ("feature_flags": Claude Code fetches them at start; offline the fetch fails and it reads
    the cache), so telemetry is left on and every other host is sent to a dead loopback proxy:
    nothing leaves the machine."""
    path = os.path.join(home, ".claude.json")
    config = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    flags = dict(config.get("cachedGrowthBookFeatures", {}), **scenario.get("feature_flags", {}))
    config.update({
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "cachedGrowthBookFeatures": flags,
        "customApiKeyResponses": {"approved": [env["ANTHROPIC_API_KEY"][-20:]], "rejected": []},
        "projects": {project: {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
    })
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    for name in ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "DISABLE_TELEMETRY"):
        env.pop(name, None)
    env.update({"TERM": "xterm-256color", "HTTPS_PROXY": "http://127.0.0.1:9",
                "HTTP_PROXY": "http://127.0.0.1:9"})


def run_in_terminal(cmd, cwd, env, timeout, requests_path, turns, transcript, prompt, debug_log):
    """Runs an interactive Claude Code in a pseudo-terminal: types the prompt once its debug log
    says the MCP server is connected, waits until the fake model has answered the script's last
    turn (then a moment more, for the tool results to be shown), and ends it.
    Returns 0 when the script ran to its end, "timeout" otherwise. What the terminal showed,
    without escape sequences, goes to transcript."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes Claude Code
        try:
            os.chdir(cwd)
            os.execve(cmd[0], cmd, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    screen = bytearray()
    started = time.monotonic()
    done_at = None
    typed = False
    rc = "timeout"
    while time.monotonic() - started < timeout:
        if not typed and os.path.exists(debug_log):
            with open(debug_log, encoding="utf-8", errors="replace") as f:
                log = f.read()
            if f'MCP server "{SERVER}": Connection established' in log:
                time.sleep(0.5)  # the listings that follow the connection
                # The Enter goes on its own, a moment later: a longer prompt arriving in one
                # write is taken as a paste, and an Enter inside a paste is a newline, not a send.
                os.write(fd, prompt.encode())
                time.sleep(0.5)
                os.write(fd, b"\r")
                typed = True
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            screen += data
        if done_at is None:
            main = [r for r in read_requests(requests_path) if r.get("turn") is not None]
            if any(r["turn"] >= turns - 1 for r in main):
                done_at = time.monotonic()
                rc = 0
        elif time.monotonic() - done_at > 1.5:
            break
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        time.sleep(0.3)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    text = re.sub(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]",
                  "", screen.decode("utf-8", "replace"))
    with open(transcript, "w", encoding="utf-8") as f:
        f.write(text)
    return rc


def summary(recorded):
    """What the model was offered and what the tools answered, for people and reports."""
    out = []
    text = recorded.system_text()
    m = re.search(r"The following deferred tools are now available via ToolSearch.*?\n((?:[^\n]+\n)+)", text, re.S)
    out.append("== deferred tools offered by name (first request)")
    out.append(m.group(1).rstrip() if m else "(no deferred-tools list in the first request)")
    out.append("== tools with schemas (first request)")
    out.append(", ".join(recorded.offered_tools()))
    m = re.search(r"# MCP Server Instructions\n(.*?)(?=\n(?:The following skills|# )|\Z)", text, re.S)
    out.append("== MCP server instructions (first request)")
    out.append(m.group(1).strip() if m else "(none)")
    out.append("== skills offered (lines naming msgbatch or batch)")
    skills = [line for line in text.splitlines() if line.startswith("- ") and "batch" in line.lower()]
    out.append("\n".join(s[:400] for s in skills) if skills else "(none)")
    out.append("== tool calls")
    for turn, name, args, result in recorded.calls():
        out.append(f"turn {turn}: {name} {json.dumps(args)}")
        if result is not None:
            from fake_model import tool_references

            refs = tool_references(result)
            if refs:
                out.append(f"  -> tool_reference: {', '.join(refs)}")
            body = block_text(result).strip()
            out.append("  -> " + ("[is_error] " if result.get("is_error") else "")
                       + body[:1500].replace("\n", "\n     "))
    tasks = task_timeline(recorded)
    if tasks:
        out.append("== MCP tasks on the wire (seconds from the first message; status; message)")
        out.append("\n".join(tasks))
    out.append("== final answer")
    out.append(recorded.final)
    return "\n".join(out) + "\n"


def task_timeline(recorded):
    """A task's life as the wire shows it: the call answered as a task, each tasks/get (or
    tasks/cancel) and its answer. From mcp.jsonl (stdio, "record_mcp") or, over HTTP, from the
    server's log at RUST_LOG=info,rmcp=debug (rmcp logs each request and response there)."""
    lines = []
    for e in recorded.mcp:
        m = e.get("msg", {})
        method = m.get("method", "")
        result = m.get("result") or {}
        if method.startswith("tasks/"):
            lines.append(f"{e['t']:7.3f} c2s {method} id={m.get('id')}")
        elif result.get("resultType") == "task" or "taskId" in result:
            kind = "task" if result.get("resultType") == "task" else "tasks/get answer"
            lines.append(f"{e['t']:7.3f} s2c {kind} id={m.get('id')}: {result.get('status')}; "
                         f"{result.get('statusMessage', '')}")
    if recorded.mcp:
        return lines
    start = None
    for line in recorded.server_log.splitlines():
        m = re.match(r"(\S+)\s", line)
        stamp = m.group(1) if m else ""
        what = None
        if "task created" in line:
            what = "task created"
        elif re.search(r"received request id=\S+ request=(GetTask|CancelTask)Request", line):
            what = re.search(r"request=(\w+)Request", line).group(1)
        elif "result=GetTaskResult" in line:
            st = re.search(r"status: (\w+), status_message: Some\(\"([^\"]*)\"", line)
            what = f"GetTaskResult: {st.group(1)}; {st.group(2)}" if st else "GetTaskResult"
        elif "result=CreateTaskResult" in line:
            what = "CreateTaskResult (resultType task)"
        if what:
            try:
                t = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + stamp[19:].rstrip("Z"))
            except ValueError:
                t = 0.0
            start = t if start is None else start
            lines.append(f"{t - start:7.3f} {what}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--bin", default=os.environ.get("MSGBATCH_BIN", os.path.join(ROOT, "target", "debug", "msgbatch-mcp")))
    parser.add_argument("--out", help="keep everything here (default: a temporary folder, removed when all checks pass)")
    parser.add_argument("--claude", default=os.environ.get("CLAUDE_BIN", DEFAULT_CLAUDE))
    args = parser.parse_args()

    with open(args.scenario, encoding="utf-8") as f:
        scenario = json.load(f)
    name = os.path.splitext(os.path.basename(args.scenario))[0]
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        fail(f"{binary} is not an executable: build it (cargo build) or pass --bin")
    if not os.access(args.claude, os.X_OK):
        fail(f"{args.claude} not found: run bash ci/claude-code/install.sh (or set CLAUDE_BIN)")
    run_dir = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix=f"cc-{name}-")
    if args.out:
        shutil.rmtree(run_dir, ignore_errors=True)
    home = os.path.join(run_dir, "home")
    project = os.path.join(run_dir, "project")
    for d in (home, project):
        os.makedirs(d, exist_ok=True)
    procs = []
    env_vars = {"RUN_DIR": run_dir, "HOME": home, "PROJECT": project, "BIN": binary, "HERE": HERE}

    def start(cmd, log, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=open(os.path.join(run_dir, log), "w"), text=True, **kw)
        procs.append(p)
        return p

    try:
        server_env = {"ANTHROPIC_API_KEY": "sk-ant-fake-key-for-the-simulator"}
        if scenario.get("simulator", True):
            mock = start([binary, "mock", "--listen", "127.0.0.1:0", *scenario.get("simulator_args", [])],
                         "mock.stderr")
            m = wait_for_line(mock, r"MSGBATCH_API_URL=(\S+)", "msgbatch-mcp mock",
                              sink=open(os.path.join(run_dir, "mock.stdout"), "w"))
            server_env["MSGBATCH_API_URL"] = m.group(1)
            env_vars["MOCK_URL"] = m.group(1)
        server_env.update(fill(scenario.get("server_env", {}), env_vars))

        for rel, content in fill(scenario.get("files", {}), env_vars).items():
            path = os.path.join(run_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
            if rel.endswith((".sh", ".py")):
                os.chmod(path, 0o755)

        requests_path = os.path.join(run_dir, "requests.jsonl")
        script_path = os.path.join(run_dir, "scenario.json")
        with open(script_path, "w", encoding="utf-8") as f:
            json.dump(fill(scenario, env_vars), f, indent=2)
        port_file = os.path.join(run_dir, "model.port")
        start([sys.executable, os.path.join(HERE, "fake_model.py"), "--script", script_path,
               "--record", requests_path, "--port-file", port_file], "model.stderr")
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        else:
            fail("the fake model did not start (see model.stderr)")
        with open(port_file) as f:
            model_url = f"http://127.0.0.1:{f.read().strip()}"

        transport = scenario.get("transport", "stdio")
        server_args = fill(scenario.get("server_args", []), env_vars)
        if transport == "stdio":
            entry = {"type": "stdio", "command": binary, "args": server_args, "env": server_env}
            if scenario.get("record_mcp"):
                entry.update(command=sys.executable,
                             args=[os.path.join(HERE, "mcp_tee.py"), os.path.join(run_dir, "mcp.jsonl"),
                                   "--", binary, *server_args])
        elif transport == "http":
            http_env = dict(os.environ, **server_env)
            http_env.pop("MSGBATCH_HTTP_TOKEN", None)
            http_env.update(server_env)
            srv = start([binary, "serve", "--http", "127.0.0.1:0", *server_args], "server.stderr", env=http_env)
            m = wait_for_line(srv, r"serving MCP at (http://\S+)", "msgbatch-mcp serve --http",
                              sink=open(os.path.join(run_dir, "server.stdout"), "w"))
            entry = {"type": "http", "url": m.group(1)}
            if scenario.get("http_headers"):
                entry["headers"] = fill(scenario["http_headers"], env_vars)
        else:
            fail(f"transport must be stdio or http, not {transport}")
        mcp_config = os.path.join(run_dir, "mcp.json")
        with open(mcp_config, "w", encoding="utf-8") as f:
            json.dump({"mcpServers": {SERVER: entry}}, f, indent=2)

        interactive = bool(scenario.get("interactive"))
        prompt = scenario.get("prompt", "Cancel my message batch.")
        # Interactive: the prompt is typed once the server is connected (run_in_terminal), so
        # the first request shows the server's tools, as it does for a person who waits.
        cmd = [args.claude, *([] if interactive else ["-p", prompt]),
               "--mcp-config", mcp_config, "--strict-mcp-config",
               *([] if interactive else ["--output-format", "stream-json", "--verbose"]),
               "--allowedTools", ",".join(scenario.get("allowed_tools", [f"mcp__{SERVER}"]))]
        if "settings" in scenario:
            settings_path = os.path.join(run_dir, "settings.json")
            with open(settings_path, "w", encoding="utf-8") as f:
                json.dump(fill(scenario["settings"], env_vars), f, indent=2)
            cmd += ["--settings", settings_path]
        cmd += fill(scenario.get("claude_args", []), env_vars)
        # Claude Code's own log (MCP connection, era, errors): `where: "debug_log"`.
        debug_log = os.path.join(run_dir, "claude-debug.log")
        if "--debug-file" not in cmd:
            cmd += ["--debug-file", debug_log]
        claude_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "TMPDIR": run_dir,
            "LANG": "C.UTF-8",
            "ANTHROPIC_BASE_URL": model_url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-the-fake-model",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        if interactive:
            interactive_setup(claude_env, home, project, scenario)
        claude_env.update(fill(scenario.get("claude_env", {}), env_vars))
        claude_env = {k: v for k, v in claude_env.items() if v is not None}
        with open(os.path.join(run_dir, "claude.cmd"), "w") as f:
            f.write(json.dumps({"cmd": cmd, "env": claude_env}, indent=2))
        timeout = scenario.get("timeout_seconds", 120)
        started = time.monotonic()
        with open(os.path.join(run_dir, "claude.stdout"), "w") as out, \
                open(os.path.join(run_dir, "claude.stderr"), "w") as err:
            if interactive:
                rc = run_in_terminal(cmd, project, claude_env, timeout, requests_path,
                                     len(scenario["turns"]), os.path.join(run_dir, "terminal.txt"),
                                     prompt, debug_log)
            else:
                try:
                    rc = subprocess.run(cmd, cwd=project, env=claude_env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
        took = time.monotonic() - started
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    final = ""
    if interactive:
        answered = [r for r in read_requests(requests_path) if r.get("turn") is not None]
        final = "\n".join(b.get("text", "") for b in answered[-1]["answer"]) if answered else ""
    with open(os.path.join(run_dir, "claude.stdout"), encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "result":
                final = str(event.get("result", ""))
    recorded = Recorded(read_requests(requests_path), final, run_dir)
    text = summary(recorded)
    with open(os.path.join(run_dir, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    print(f"== {name}: claude exited {rc} after {took:.1f} s; {len(recorded.main)} model turns; files in {run_dir}")
    failed = 0
    if rc != 0 and not scenario.get("allow_claude_failure"):
        failed += 1
        print(f"FAIL claude exited {rc}: see {run_dir}/claude.stderr and claude.stdout")
    for expectation in scenario.get("expect", []):
        ok, message = check(recorded, expectation)
        print(message)
        failed += 0 if ok else 1
    if failed or os.environ.get("CC_SUMMARY") or args.out:
        print(text)
    if failed:
        print(f"{name}: {failed} check(s) failed; everything is in {run_dir}")
        sys.exit(1)
    if not args.out:
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"{name}: all checks passed")


if __name__ == "__main__":
    main()
