//! `cargo bench --bench mcp`: how fast the release binary answers, next to the floor.
//!
//! Everything runs on this machine. The benchmark starts an upstream on loopback (axum) that
//! answers `POST /v1/messages/batches/{id}/cancel` at once with a fixed, valid batch object that
//! echoes the ID from the path, and an https front for it (TLS with a certificate from a test CA
//! made at run time, trusted by the processes measured here only: `SSL_CERT_FILE` for the
//! server, `--cacert` for curl). Then it measures, for the server binary built with the release
//! profile (override with `MSGBATCH_BENCH_BIN=/path/to/msgbatch-mcp`):
//!
//! - cold start: spawn -> `initialize` answered -> first `tools/call` answered (median of 20),
//!   against the http upstream and against the https front (the production setting, which
//!   loads the CA roots);
//! - warm latency: 300 sequential `cancel_message_batch` calls per session (median);
//! - throughput: 2,000 calls written at once (pipelined) in one session;
//! - peak RSS of the server after that (`VmHWM`);
//!
//! and, alternately with those (see [`BLOCK`]), the same upstream without MCP: `curl` from spawn
//! to its answer read (the same point as the server's: the answer in hand, not curl's exit),
//! warm keep-alive requests from a minimal client here, and 64 connections' worth of
//! throughput; also an MCP `ping` and a line echoed by `cat` (the pipes' round trip, the floor
//! of any stdio server), which split the warm call's time.
//!
//! The warm-call target is a ratio measured in the same run: the call's extra time over the
//! direct request must be at most 1.5 x the `cat` echo, since both are round trips through two
//! pipes and two processes and the scheduler moves them alike. The processes are not pinned (no
//! MCP client pins its server); `MSGBATCH_BENCH_PIN=1` runs everything on CPU 0 instead, and the
//! output says so. The last thing printed is the README's table, in Markdown, from this run; the
//! exit status is 1 if any target was missed.
//!
//! The MCP client is deliberately lean so that it is not what gets measured: it writes
//! ready-made JSON-RPC lines to the child's stdin and reads its stdout line by line, checking
//! only that each answer is a `result` for an ID it asked, with no `"isError":true`, that
//! carries back the batch ID it sent. Every answer is checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use axum::Router;
use axum::routing::post;
use axum::serve::ListenerExt;
use memchr::memmem;

/// The https front (and its test CA), shared with the tests.
#[path = "../tests/common/tls.rs"]
#[allow(dead_code)]
mod tls;

#[path = "support/upstream.rs"]
mod upstream;
use upstream::cancel;

const COLD_RUNS: usize = 20;
const SESSIONS: usize = 5;
const WARMUP_CALLS: usize = 30;
const SEQUENTIAL_CALLS: usize = 300;
const PIPELINED_CALLS: usize = 2_000;
const DIRECT_CONNECTIONS: usize = 64;
const DIRECT_REQUESTS_PER_CONNECTION: usize = 500;

// ---------------------------------------------------------------------------------------------
// The upstream: answers instantly with a fixed batch that echoes the ID.

/// Starts the upstream on its own 2-thread runtime; answers its address.
fn start_upstream() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let app = Router::new().route("/v1/messages/batches/{id}/cancel", post(cancel));
            // As any production HTTP server does: no Nagle delay on answers.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("upstream address")
}

// ---------------------------------------------------------------------------------------------
// The floor: the same upstream, no MCP.

fn http_request(id: &str) -> String {
    format!(
        "POST /v1/messages/batches/{id}/cancel HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         x-api-key: bench\r\nanthropic-version: 2023-06-01\r\ncontent-length: 0\r\n\r\n"
    )
}

/// If `buf` starts with a whole HTTP/1.1 response, its length; panics on anything but a 200
/// that echoes `id`.
fn complete_response(buf: &[u8], id: &str) -> Option<usize> {
    let head_end = memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII head");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "unexpected answer: {head}"
    );
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("content-length");
    if buf.len() < head_end + len {
        return None;
    }
    let body = &buf[head_end..head_end + len];
    assert!(
        memmem::find(body, format!("\"id\":\"{id}\"").as_bytes()).is_some(),
        "answer does not echo {id}"
    );
    Some(head_end + len)
}

/// One keep-alive connection, blocking.
struct DirectClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl DirectClient {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    fn cancel(&mut self, id: &str) {
        self.stream
            .write_all(http_request(id).as_bytes())
            .expect("write");
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(n) = complete_response(&self.buf, id) {
                self.buf.drain(..n);
                return;
            }
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "upstream closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Where the measured processes send their requests.
struct Target {
    /// `http` or `https`.
    scheme: &'static str,
    /// The base URL, ending just before `/messages`.
    url: String,
    /// The CA to trust for it, if https.
    ca: Option<PathBuf>,
}

/// One `curl` from spawn to its answer read (seconds), then its peak RSS in KiB once reaped.
fn curl_once(target: &Target, i: usize) -> (f64, u64) {
    let id = format!("msgbatch_curl{i:04}");
    let url = format!("{}/messages/batches/{id}/cancel", target.url);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-X", "POST", "-H", "x-api-key: bench", "-H"])
        .arg("anthropic-version: 2023-06-01");
    if let Some(ca) = &target.ca {
        cmd.arg("--cacert").arg(ca);
    }
    let t0 = Instant::now();
    let mut child = cmd
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl (is it installed?)");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    // The answer is in hand once its whole body has been read: the batch object ends with
    // `"results_url":null}`. curl's exit and reaping come after, untimed.
    let want = format!("\"id\":\"{id}\"");
    loop {
        let n = stdout.read(&mut chunk).expect("read curl");
        out.extend_from_slice(&chunk[..n]);
        if n == 0 || (out.ends_with(b"null}") && memmem::find(&out, want.as_bytes()).is_some()) {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    stdout.read_to_end(&mut out).expect("read curl");
    let (status, rss) = wait_with_rusage(&mut child);
    assert!(status == 0, "curl failed");
    assert!(
        memmem::find(&out, want.as_bytes()).is_some(),
        "curl: {}",
        String::from_utf8_lossy(&out)
    );
    (secs, rss)
}

/// `cat`, to time a line's round trip through two pipes and a process that does nothing.
struct Echo {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    got: Vec<u8>,
}

impl Echo {
    fn spawn() -> Self {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            got: Vec::new(),
        }
    }

    fn echo(&mut self, line: &[u8]) {
        self.stdin.write_all(line).expect("write");
        self.got.clear();
        self.stdout.read_until(b'\n', &mut self.got).expect("read");
        assert_eq!(self.got, line);
    }

    fn close(mut self) {
        drop(self.stdin);
        self.child.wait().expect("wait");
    }
}

/// Reaps `child`, answering its exit status and its peak RSS in KiB.
fn wait_with_rusage(child: &mut Child) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    (status, usage.ru_maxrss as u64)
}

/// Requests per second over `DIRECT_CONNECTIONS` keep-alive connections, one request at a
/// time on each, driven from one thread (as the MCP client below is).
fn direct_throughput(addr: SocketAddr) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conns = Vec::new();
        for _ in 0..DIRECT_CONNECTIONS {
            let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            conns.push(s);
        }
        let t0 = Instant::now();
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(c, mut s)| {
                tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(4096);
                    let mut chunk = [0u8; 4096];
                    for i in 0..DIRECT_REQUESTS_PER_CONNECTION {
                        let id = format!("msgbatch_c{c:03}r{i:05}");
                        s.write_all(http_request(&id).as_bytes())
                            .await
                            .expect("write");
                        loop {
                            if let Some(n) = complete_response(&buf, &id) {
                                buf.drain(..n);
                                break;
                            }
                            let n = s.read(&mut chunk).await.expect("read");
                            assert!(n > 0, "upstream closed the connection");
                            buf.extend_from_slice(&chunk[..n]);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("connection task");
        }
        (DIRECT_CONNECTIONS * DIRECT_REQUESTS_PER_CONNECTION) as f64 / t0.elapsed().as_secs_f64()
    })
}

// ---------------------------------------------------------------------------------------------
// The lean MCP client.

/// The binary to measure: `MSGBATCH_BENCH_BIN`, or the one `cargo build --release` makes.
///
/// Not `CARGO_BIN_EXE_msgbatch-mcp`: under `cargo bench` that binary is built with the
/// dev-dependencies' features unified in (tokio's `test-util`, for one), so it is not quite the
/// binary people run. Building the release binary here costs nothing once it is up to date.
fn server_bin() -> String {
    if let Ok(bin) = std::env::var("MSGBATCH_BENCH_BIN") {
        return bin;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    // Cargo sets these for the benchmark it runs; some build scripts (ring's) name them in
    // rerun-if-env-changed, so leaving them in would rebuild those crates here, and again on
    // the next plain `cargo build --release`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*key);
        if set_by_cargo {
            build.env_remove(&*key);
        }
    }
    let out = build
        .args(["build", "--release", "--bin", "msgbatch-mcp"])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --release");
    assert!(out.status.success(), "cargo build --release failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(str::to_owned))
        .expect("cargo build reported no executable")
}

const INITIALIZE: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}\n";
/// Ids below this are pings (and 0, `initialize`); from it on, tool calls.
const FIRST_CALL_ID: u64 = 1_000_000;

const INITIALIZED: &[u8] = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

fn batch_id(n: u64) -> String {
    format!("msgbatch_bench{n:07}")
}

fn call_line(n: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{n},\"method\":\"tools/call\",\"params\":{{\"name\":\"cancel_message_batch\",\"arguments\":{{\"message_batch_id\":\"{}\"}}}}}}\n",
        batch_id(n)
    )
}

/// The JSON-RPC id of a success answer; panics on an error, a tool error, or (for a tool call,
/// id >= `FIRST_CALL_ID`) an answer that does not carry the batch it asked for.
fn check_answer(line: &[u8]) -> u64 {
    const HEAD: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":";
    let text = || String::from_utf8_lossy(line).into_owned();
    assert!(line.starts_with(HEAD), "not a JSON-RPC answer: {}", text());
    let rest = &line[HEAD.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id: u64 = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric id: {}", text()));
    assert!(
        rest[digits..].starts_with(b",\"result\":"),
        "not a result: {}",
        text()
    );
    assert!(
        memmem::find(line, b"\"isError\":true").is_none(),
        "tool error: {}",
        text()
    );
    if id >= FIRST_CALL_ID {
        let want = format!("\"id\":\"{}\"", batch_id(id));
        assert!(
            memmem::find(line, want.as_bytes()).is_some(),
            "answer {id} does not carry its batch: {}",
            text()
        );
    }
    id
}

/// Reads one line and checks it with [`check_answer`].
fn read_answer(stdout: &mut BufReader<ChildStdout>, line: &mut Vec<u8>) -> u64 {
    line.clear();
    let n = stdout.read_until(b'\n', line).expect("read");
    assert!(n > 0, "the server closed stdout");
    check_answer(line)
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
    next_id: u64,
}

impl Session {
    fn spawn(bin: &str, target: &Target) -> Self {
        let mut cmd = Command::new(bin);
        if let Some(ca) = &target.ca {
            // Trust the bench's test CA, in this process only.
            cmd.env("SSL_CERT_FILE", ca);
        }
        let mut child = cmd
            .env("MSGBATCH_API_URL", &target.url)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            line: Vec::with_capacity(4096),
            next_id: FIRST_CALL_ID,
        }
    }

    fn read_answer(&mut self) -> u64 {
        read_answer(&mut self.stdout, &mut self.line)
    }

    fn initialize(&mut self) {
        self.stdin.write_all(INITIALIZE).expect("write");
        assert_eq!(self.read_answer(), 0);
        self.stdin.write_all(INITIALIZED).expect("write");
    }

    /// One `ping`, waiting for its answer: the MCP round trip with no upstream behind it.
    fn ping(&mut self, n: u64) {
        let line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{n},\"method\":\"ping\"}}\n");
        self.stdin.write_all(line.as_bytes()).expect("write");
        assert_eq!(self.read_answer(), n);
    }

    /// One call, waiting for its answer.
    fn call(&mut self) {
        let n = self.next_id;
        self.next_id += 1;
        self.stdin
            .write_all(call_line(n).as_bytes())
            .expect("write");
        assert_eq!(self.read_answer(), n);
    }

    /// `count` calls written at once; answers the seconds until the last answer.
    fn pipelined(&mut self, count: usize) -> f64 {
        let first = self.next_id;
        self.next_id += count as u64;
        let mut all = Vec::with_capacity(count * 160);
        for n in first..first + count as u64 {
            all.extend_from_slice(call_line(n).as_bytes());
        }
        let mut seen = vec![false; count];
        let t0 = Instant::now();
        let Self {
            stdin,
            stdout,
            line,
            ..
        } = self;
        std::thread::scope(|s| {
            s.spawn(move || stdin.write_all(&all).expect("write"));
            for _ in 0..count {
                let id = read_answer(stdout, line);
                let slot = id
                    .checked_sub(first)
                    .and_then(|i| seen.get_mut(i as usize))
                    .expect("an id we asked");
                assert!(!*slot, "answer {id} came twice");
                *slot = true;
            }
        });
        t0.elapsed().as_secs_f64()
    }

    /// A `/proc/<pid>/status` figure in KiB (`VmHWM`, `RssFile`, ...).
    fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }

    fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM")
    }

    fn close(mut self) {
        drop(self.stdin);
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "server exited with {status}");
    }
}

/// Spawn -> initialize answered -> first call answered (seconds, seconds).
fn mcp_cold_once(bin: &str, target: &Target) -> (f64, f64) {
    let t0 = Instant::now();
    let mut s = Session::spawn(bin, target);
    s.initialize();
    let init = t0.elapsed().as_secs_f64();
    s.call();
    let first = t0.elapsed().as_secs_f64();
    s.close();
    (init, first)
}

/// What one session measured, and the floors measured between its blocks of calls.
struct SessionFigures {
    warm_median: f64,
    warm_p90: f64,
    /// The same number of direct requests, in blocks between the calls' blocks.
    direct_median: f64,
    /// MCP `ping`s and `cat` echoes, likewise.
    ping_median: f64,
    echo_median: f64,
    throughput: f64,
    /// `direct_throughput` run just before the session's pipelined calls.
    direct_rps: f64,
    peak_rss_kib: u64,
    /// RSS after the run, file-backed (code) and anonymous (heap, stacks).
    file_kib: u64,
    anon_kib: u64,
}

/// Calls per block: the sequential calls, direct requests, pings and echoes alternate in blocks
/// of this size, so that a machine that is busier at one moment (this one is shared) slows
/// the floor and the server alike, and their difference stays meaningful.
const BLOCK: usize = 30;

fn mcp_session(bin: &str, upstream: SocketAddr, target: &Target) -> SessionFigures {
    let mut direct = DirectClient::connect(upstream);
    let mut echo = Echo::spawn();
    let echo_line = call_line(FIRST_CALL_ID);
    let mut s = Session::spawn(bin, target);
    s.initialize();
    for i in 0..WARMUP_CALLS {
        s.call();
        direct.cancel(&format!("msgbatch_warm{i:07}"));
    }
    let timed = |f: &mut dyn FnMut()| {
        let t0 = Instant::now();
        f();
        t0.elapsed().as_secs_f64()
    };
    let (mut calls, mut directs, mut pings, mut echoes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for block in 0..SEQUENTIAL_CALLS / BLOCK {
        for _ in 0..BLOCK {
            calls.push(timed(&mut || s.call()));
        }
        for i in 0..BLOCK {
            let id = format!("msgbatch_dseq{:07}", block * BLOCK + i);
            directs.push(timed(&mut || direct.cancel(&id)));
        }
        for i in 0..BLOCK {
            let n = (block * BLOCK + i + 1) as u64;
            pings.push(timed(&mut || s.ping(n)));
        }
        for _ in 0..BLOCK {
            echoes.push(timed(&mut || echo.echo(echo_line.as_bytes())));
        }
    }
    echo.close();
    drop(direct);
    let direct_rps = direct_throughput(upstream);
    let secs = s.pipelined(PIPELINED_CALLS);
    let peak_rss_kib = s.peak_rss_kib();
    let file_kib = s.status_kib("RssFile");
    let anon_kib = s.status_kib("RssAnon");
    s.close();
    let warm_median = median(&mut calls);
    SessionFigures {
        warm_median,
        warm_p90: calls[calls.len() * 9 / 10],
        direct_median: median(&mut directs),
        ping_median: median(&mut pings),
        echo_median: median(&mut echoes),
        throughput: PIPELINED_CALLS as f64 / secs,
        direct_rps,
        peak_rss_kib,
        file_kib,
        anon_kib,
    }
}

// ---------------------------------------------------------------------------------------------

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    let m = median(v);
    (v[0], m, v[v.len() - 1])
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs this process, and every thread and child started after, on CPU 0 only
/// (`MSGBATCH_BENCH_PIN=1`; not the default, since no MCP client pins its server).
///
/// On the 2-vCPU virtual machine this was written on, a wakeup that crosses to the other vCPU
/// costs about 40 µs, against 3 µs on the same one; the scheduler keeps a blocking reader next
/// to its writer (`cat`, the direct client) but not a process waiting in epoll (the server, the
/// upstream's workers). Pinned, the figures measure the software rather than where the
/// scheduler put it; unpinned, they measure what a user gets, which is why the warm-call target
/// is a ratio to the `cat` echo measured alongside.
fn pin_to_first_cpu() {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        let r = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(r, 0, "sched_setaffinity");
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One figure of the final table.
struct Row {
    figure: String,
    value: String,
    floor: String,
    ratio: String,
    target: &'static str,
    met: bool,
}

fn main() {
    let bin = server_bin();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let pinned = std::env::var_os("MSGBATCH_BENCH_PIN").is_some_and(|v| v == "1");
    println!("msgbatch-mcp benchmark");
    println!("  server   {bin}");
    println!("  machine  {cores} cores, {}", cpu_model());
    let load_before = loadavg();
    println!("  load     {load_before} (1/5/15 min, before)");
    if pinned {
        pin_to_first_cpu();
        println!(
            "  PINNED   everything (this process, its threads, curl, cat, the server) to CPU 0 \
             (MSGBATCH_BENCH_PIN=1); not how users run it"
        );
    } else {
        println!(
            "  unpinned (as users run it; MSGBATCH_BENCH_PIN=1 runs everything on CPU 0 instead)"
        );
    }
    let upstream = start_upstream();
    let front = tls::TlsFront::start(upstream);
    let http = Target {
        scheme: "http",
        url: format!("http://{upstream}/v1"),
        ca: None,
    };
    let https = Target {
        scheme: "https",
        url: format!("{}/v1", front.origin),
        ca: Some(front.ca_file.clone()),
    };
    println!("  upstream {} (axum, 2 threads, loopback)", http.url);
    println!(
        "           {} (TLS front for it; certificate from a test CA made for this run)",
        https.url
    );
    println!();

    // For profiling: one session only, the server run through any wrapper given as
    // MSGBATCH_BENCH_BIN (e.g. a script that execs `valgrind --tool=callgrind`).
    if std::env::var_os("MSGBATCH_BENCH_ONE_SESSION").is_some() {
        let s = mcp_session(&bin, upstream, &http);
        println!(
            "one session: call {:.1} µs (p90 {:.1}), direct {:.1} µs, ping {:.1} µs, echo {:.1} µs; \
             {:.0} calls/s pipelined (direct {:.0}/s); VmHWM {} KiB (now: file {} + anon {} KiB)",
            s.warm_median * 1e6,
            s.warm_p90 * 1e6,
            s.direct_median * 1e6,
            s.ping_median * 1e6,
            s.echo_median * 1e6,
            s.throughput,
            s.direct_rps,
            s.peak_rss_kib,
            s.file_kib,
            s.anon_kib
        );
        return;
    }

    let ms = |s: f64| s * 1e3;
    let us = |s: f64| s * 1e6;
    let mib = |k: f64| k / 1024.0;
    let mut rows = Vec::new();

    // Each figure and its floor are measured alternately (a curl, then a server start; a
    // block of direct requests, then a block of calls; a direct throughput run, then the
    // pipelined calls), so that both see the machine in the same state.
    let mut curl_rss = 0;
    println!("cold start ({COLD_RUNS} runs each, alternating; both timed to the answer in hand)");
    for target in [&http, &https] {
        let (mut curl, mut init, mut first) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..COLD_RUNS {
            let (t, rss) = curl_once(target, i);
            curl.push(t);
            // curl's own floor for memory: plain http (its TLS library would add to it).
            if target.ca.is_none() {
                curl_rss = curl_rss.max(rss);
            }
            let (a, b) = mcp_cold_once(&bin, target);
            init.push(a);
            first.push(b);
        }
        let (curl_lo, curl_med, curl_hi) = spread(&mut curl);
        let (init_lo, init_med, init_hi) = spread(&mut init);
        let (first_lo, first_med, first_hi) = spread(&mut first);
        let scheme = target.scheme;
        println!(
            "  {scheme:<5} curl spawn -> answer read            median {:7.2} ms (range {:.2}-{:.2})",
            ms(curl_med),
            ms(curl_lo),
            ms(curl_hi)
        );
        println!(
            "  {scheme:<5} msgbatch-mcp spawn -> initialize     median {:7.2} ms (range {:.2}-{:.2})",
            ms(init_med),
            ms(init_lo),
            ms(init_hi)
        );
        println!(
            "  {scheme:<5} msgbatch-mcp spawn -> first call     median {:7.2} ms (range {:.2}-{:.2})",
            ms(first_med),
            ms(first_lo),
            ms(first_hi)
        );
        rows.push(Row {
            figure: format!(
                "spawn → `initialize` → first `tools/call` answered, {scheme} upstream (median of {COLD_RUNS})"
            ),
            value: format!("{:.2} ms", ms(first_med)),
            floor: format!("`curl` spawn → answer read: {:.2} ms", ms(curl_med)),
            ratio: format!("{:.2}×", first_med / curl_med),
            target: "≤ 2×",
            met: first_med <= 2.0 * curl_med,
        });
    }
    println!();

    let mut sessions: Vec<SessionFigures> = (0..SESSIONS)
        .map(|_| mcp_session(&bin, upstream, &http))
        .collect();
    let per = |f: fn(&SessionFigures) -> f64| -> Vec<f64> { sessions.iter().map(f).collect() };

    let direct_med = median(&mut per(|s| s.direct_median));
    let echo = median(&mut per(|s| s.echo_median));
    let mut direct_rps = per(|s| s.direct_rps);
    let (rps_lo, rps_med, rps_hi) = spread(&mut direct_rps);
    let (warm_lo, warm_med, warm_hi) = spread(&mut per(|s| s.warm_median));
    let (tp_lo, tp_med, tp_hi) = spread(&mut per(|s| s.throughput));
    let ping_med = median(&mut per(|s| s.ping_median));
    let p90_med = median(&mut per(|s| s.warm_p90));
    let (rss_lo, rss_med, rss_hi) = spread(&mut per(|s| s.peak_rss_kib as f64));
    let file_med = median(&mut per(|s| s.file_kib as f64));
    let anon_med = median(&mut per(|s| s.anon_kib as f64));
    // The warm figure is judged on each session's own difference to the direct requests, and
    // that difference's ratio to the same session's `cat` echo, so that a session that met a
    // busy machine (or a cross-CPU wakeup pattern) compares like with like.
    let extra_med = median(&mut per(|s| s.warm_median - s.direct_median));
    let (ratio_lo, ratio_med, ratio_hi) = spread(&mut per(|s| {
        (s.warm_median - s.direct_median) / s.echo_median
    }));

    println!("sessions (medians of {SEQUENTIAL_CALLS} each; blocks of {BLOCK} alternate)");
    println!(
        "  {:>2} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>12} {:>12} {:>10}",
        "#",
        "call µs",
        "direct µs",
        "extra µs",
        "ping µs",
        "cat µs",
        "extra/cat",
        "calls/s",
        "direct/s",
        "VmHWM MiB"
    );
    for (i, f) in sessions.iter().enumerate() {
        println!(
            "  {:>2} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>8.2}x {:>12.0} {:>12.0} {:>10.1}",
            i + 1,
            us(f.warm_median),
            us(f.direct_median),
            us(f.warm_median - f.direct_median),
            us(f.ping_median),
            us(f.echo_median),
            (f.warm_median - f.direct_median) / f.echo_median,
            f.throughput,
            f.direct_rps,
            mib(f.peak_rss_kib as f64)
        );
    }
    println!();
    sessions.clear();

    println!("floor (same upstream, no MCP; measured alternately with the server)");
    println!(
        "  direct warm request           median {:8.1} µs   (median of {SESSIONS} sessions' medians of {SEQUENTIAL_CALLS}, keep-alive)",
        us(direct_med),
    );
    println!(
        "  a line echoed by cat          median {:8.1} µs   (the pipes' round trip)",
        us(echo),
    );
    println!(
        "  direct throughput             median {:8.0} req/s ({DIRECT_CONNECTIONS} connections; range {rps_lo:.0}-{rps_hi:.0})",
        rps_med
    );
    println!();
    println!(
        "msgbatch-mcp ({SESSIONS} sessions of {SEQUENTIAL_CALLS} sequential + {PIPELINED_CALLS} pipelined calls, http upstream)"
    );
    println!(
        "  warm call (median per session) median {:7.1} µs   (range {:.1}-{:.1}); p90 {:.1} µs",
        us(warm_med),
        us(warm_lo),
        us(warm_hi),
        us(p90_med)
    );
    println!(
        "    extra over the direct request {:.1} µs = {:.2}x the cat echo (sessions {:.2}-{:.2}x); an MCP ping {:.1} µs",
        us(extra_med),
        ratio_med,
        ratio_lo,
        ratio_hi,
        us(ping_med)
    );
    println!(
        "  pipelined throughput          median {:8.0} calls/s (range {:.0}-{:.0})",
        tp_med, tp_lo, tp_hi
    );
    println!(
        "  peak RSS (VmHWM) after that   median {:8.1} MiB  (range {:.1}-{:.1})",
        mib(rss_med),
        mib(rss_lo),
        mib(rss_hi)
    );
    println!(
        "    RSS at the end: {:.1} MiB mapped from files (the binary's code, libc), {:.1} MiB anonymous",
        mib(file_med),
        mib(anon_med)
    );
    println!();

    rows.push(Row {
        figure: format!(
            "warm call: extra over a direct keep-alive request (median of {SESSIONS} sessions × {SEQUENTIAL_CALLS})"
        ),
        value: format!("+{:.1} µs (call {:.1} µs)", us(extra_med), us(warm_med)),
        floor: format!(
            "`cat` echo: {:.1} µs (direct request {:.1} µs)",
            us(echo),
            us(direct_med)
        ),
        ratio: format!("{ratio_med:.2}× echo"),
        target: "≤ 1.5× echo",
        met: ratio_med <= 1.5,
    });
    rows.push(Row {
        figure: format!("{PIPELINED_CALLS} calls written at once, one session"),
        value: format!("{tp_med:.0} calls/s"),
        floor: format!("direct, {DIRECT_CONNECTIONS} connections: {rps_med:.0} req/s"),
        ratio: format!("{:.2}×", tp_med / rps_med),
        target: "≥ 15,000/s",
        met: tp_med >= 15_000.0,
    });
    rows.push(Row {
        figure: format!("peak RSS (VmHWM) after those {PIPELINED_CALLS} calls"),
        value: format!("{:.1} MiB", mib(rss_med)),
        floor: format!("`curl`'s peak RSS: {:.1} MiB", mib(curl_rss as f64)),
        ratio: format!("{:.2}×", rss_med / curl_rss as f64),
        target: "≤ 12 MiB",
        met: rss_med <= 12.0 * 1024.0,
    });

    // The README's table, from this run.
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("---- README table (Markdown), from this run ----");
    println!();
    println!(
        "Measured {date} with `cargo bench --bench mcp` on {cores} cores (\"{}\"), {}; load {} before, {} after.",
        cpu_model(),
        if pinned {
            "everything pinned to CPU 0 (`MSGBATCH_BENCH_PIN=1`)"
        } else {
            "unpinned"
        },
        load_before,
        loadavg()
    );
    println!();
    println!("| figure | msgbatch-mcp | floor, same run | ratio | target |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} {} |",
            r.figure,
            r.value,
            r.floor,
            r.ratio,
            r.target,
            if r.met { "✓" } else { "✗ missed" }
        );
    }
    println!();
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.met)
        .map(|r| r.figure.as_str())
        .collect();
    if !missed.is_empty() {
        eprintln!("targets missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}
