//! `cargo bench --bench http`: `msgbatch-mcp serve --http` next to its floor, the upstream alone.
//!
//! Everything runs on this machine, over loopback. The benchmark starts an upstream (axum, one
//! thread) that answers `POST /v1/messages/batches/{id}/cancel` at once with a fixed batch that
//! echoes the ID, and the release binary as `serve --http 127.0.0.1:0` in front of it
//! (override the binary with `MSGBATCH_BENCH_BIN`, add server flags with `MSGBATCH_BENCH_ARGS`).
//! The server runs a worker thread per CPU it may use, so `taskset` changes what is measured: the
//! header line says how many threads and CPUs it had. Then, for the issue 9 targets:
//!
//! - p50 of one `tools/call` (`cancel_message_batch`) at one keep-alive connection, next to the
//!   p50 of the same cancel sent straight to the upstream, the two taking turns call by call
//!   (target: at most 100 µs more);
//! - calls/s at 64 connections, one call at a time on each, next to the upstream alone (target:
//!   at least 15,000 calls/s; no error);
//! - the server's peak RSS (`VmHWM`) after 1,000 connections, opened at once, each sending one
//!   call (target: at most 32 MB; a full server may answer 503 with `retry-after`, but every
//!   connection gets an answer).
//!
//! It also prints the server's CPU time per call (from `/proc/PID/stat`) at one connection and at
//! 64: the p50 at one connection is mostly that CPU time, and on a VM it depends on where the
//! server runs. With everything on one CPU (`taskset -c 0`) a call costs the server ~90 µs; on
//! a CPU of its own, idle between calls, the same work takes about twice that.
//!
//! The load comes from one thread of this process, over raw HTTP/1.1 with ready-made requests,
//! so that the client is not what gets measured. Every answer is checked: a 200 whose JSON-RPC
//! result carries the batch ID sent and no `"isError":true` (a 503 only where allowed). It
//! prints a table and exits non-zero when a target is missed.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use axum::serve::ListenerExt;
use memchr::memmem;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/upstream.rs"]
mod upstream;
use upstream::cancel;

const WARMUP: usize = 500;
const SEQUENTIAL: usize = 3_000;
const CONNECTIONS: usize = 64;
const CALLS_PER_CONNECTION: usize = 400;
const BURST_CONNECTIONS: usize = 1_000;

const TARGET_P50_OVER_DIRECT_US: f64 = 100.0;
const TARGET_CALLS_PER_SEC: f64 = 15_000.0;
/// Read as MiB, as VmHWM counts (the stdio benchmark's targets are MiB too).
const TARGET_PEAK_RSS_MB: f64 = 32.0;

// ---------------------------------------------------------------------------------------------
// The upstream.

fn start_upstream() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let app = Router::new().route("/v1/messages/batches/{id}/cancel", post(cancel));
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("upstream address")
}

// ---------------------------------------------------------------------------------------------
// Requests and answers.

#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// `POST /mcp` with a `tools/call`.
    Mcp,
    /// `POST /v1/messages/batches/{id}/cancel`, straight to the upstream.
    Direct,
}

fn request(target: Target, addr: SocketAddr, id: &str, n: usize) -> Vec<u8> {
    match target {
        Target::Mcp => {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":{n},"method":"tools/call","params":{{"name":"cancel_message_batch","arguments":{{"message_batch_id":"{id}"}}}}}}"#
            );
            format!(
                "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
                 accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        Target::Direct => format!(
            "POST /v1/messages/batches/{id}/cancel HTTP/1.1\r\nhost: {addr}\r\n\
             x-api-key: bench\r\nanthropic-version: 2023-06-01\r\ncontent-length: 0\r\n\r\n"
        )
        .into_bytes(),
    }
}

#[derive(Debug, PartialEq)]
enum Answer {
    Ok,
    Busy,
}

/// If `buf` starts with a whole response, its length and what it was; panics on anything but
/// a 200 that carries `id` without `"isError":true`, or (where `busy_ok`) a 503 with retry-after.
fn complete(buf: &[u8], id: &str, busy_ok: bool) -> Option<(usize, Answer)> {
    let head_end = memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII head");
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    if buf.len() < head_end + len {
        return None;
    }
    let body = &buf[head_end..head_end + len];
    if head.starts_with("HTTP/1.1 503") && busy_ok {
        assert!(
            head.to_ascii_lowercase().contains("retry-after:"),
            "503 without retry-after: {head}"
        );
        return Some((head_end + len, Answer::Busy));
    }
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "unexpected answer: {head}{}",
        String::from_utf8_lossy(body)
    );
    assert!(
        memmem::find(body, id.as_bytes()).is_some(),
        "answer does not carry {id}: {}",
        String::from_utf8_lossy(body)
    );
    assert!(
        memmem::find(body, b"\"isError\":true").is_none(),
        "an error answer: {}",
        String::from_utf8_lossy(body)
    );
    Some((head_end + len, Answer::Ok))
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Vec::with_capacity(8192),
        }
    }

    async fn send(&mut self, req: &[u8]) {
        self.stream.write_all(req).await.expect("write");
    }

    async fn answer(&mut self, id: &str, busy_ok: bool) -> Answer {
        let mut chunk = [0u8; 16384];
        loop {
            if let Some((n, a)) = complete(&self.buf, id, busy_ok) {
                self.buf.drain(..n);
                return a;
            }
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the server closed a connection without answering");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn call(&mut self, target: Target, addr: SocketAddr, id: &str, n: usize) -> Answer {
        self.send(&request(target, addr, id, n)).await;
        self.answer(id, false).await
    }
}

fn id(conn: usize, n: usize) -> String {
    format!("msgbatch_bench{conn:04}x{n:07}")
}

// ---------------------------------------------------------------------------------------------
// The measurements.

/// p50 and p99, in µs, of one call at a time on one keep-alive connection to each target: the
/// MCP server and the upstream alone, taking turns call by call so that both see the same
/// machine (a shared VM's speed drifts by tens of µs over a second). Answers (mcp, direct).
async fn sequential(mcp: SocketAddr, upstream: SocketAddr) -> ((f64, f64), (f64, f64)) {
    let targets = [(Target::Mcp, mcp), (Target::Direct, upstream)];
    let mut conns = [Conn::open(mcp).await, Conn::open(upstream).await];
    for n in 0..WARMUP {
        for ((target, addr), conn) in targets.iter().zip(conns.iter_mut()) {
            conn.call(*target, *addr, &id(0, n), n).await;
        }
    }
    let mut times = [
        Vec::with_capacity(SEQUENTIAL),
        Vec::with_capacity(SEQUENTIAL),
    ];
    for n in 0..SEQUENTIAL {
        for (((target, addr), conn), times) in
            targets.iter().zip(conns.iter_mut()).zip(times.iter_mut())
        {
            let req = request(*target, *addr, &id(1, n), n);
            let t = Instant::now();
            conn.send(&req).await;
            assert_eq!(conn.answer(&id(1, n), false).await, Answer::Ok);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let [mcp, direct] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        (t[t.len() / 2], t[t.len() * 99 / 100])
    });
    (mcp, direct)
}

/// Calls per second over `CONNECTIONS` connections, one call at a time on each.
async fn throughput(target: Target, addr: SocketAddr) -> f64 {
    let mut conns = Vec::new();
    for _ in 0..CONNECTIONS {
        conns.push(Conn::open(addr).await);
    }
    let t = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            tokio::spawn(async move {
                for n in 0..CALLS_PER_CONNECTION {
                    let a = conn.call(target, addr, &id(c, n), n).await;
                    assert_eq!(a, Answer::Ok);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a connection's calls");
    }
    (CONNECTIONS * CALLS_PER_CONNECTION) as f64 / t.elapsed().as_secs_f64()
}

/// Opens `BURST_CONNECTIONS` connections, then sends a call on each at once; every one must be
/// answered (200, or 503 with retry-after). Answers (ok, busy).
async fn burst(addr: SocketAddr) -> (usize, usize) {
    let mut conns = Vec::new();
    for _ in 0..BURST_CONNECTIONS {
        conns.push(Conn::open(addr).await);
    }
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            tokio::spawn(async move {
                let id = id(c, 0);
                conn.send(&request(Target::Mcp, addr, &id, c)).await;
                let a = conn.answer(&id, true).await;
                (a, conn)
            })
        })
        .collect();
    let mut ok = 0;
    let mut busy = 0;
    let mut open = Vec::new();
    for task in tasks {
        let (a, conn) = task.await.expect("a burst connection");
        match a {
            Answer::Ok => ok += 1,
            Answer::Busy => busy += 1,
        }
        open.push(conn);
    }
    drop(open);
    (ok, busy)
}

/// A number from /proc/PID/status (kB for memory, a count for `Threads:`).
fn status_field(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
}

/// CPU time (user + system) the process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces, inside parentheses).
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

fn server_bin() -> String {
    std::env::var("MSGBATCH_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_msgbatch-mcp").into())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument would mean nothing here.
    let upstream = start_upstream();
    let bin = server_bin();
    let mut server = Command::new(&bin)
        .args(["serve", "--http", "127.0.0.1:0"])
        // More server flags to try, e.g. MSGBATCH_BENCH_ARGS="--workers 1".
        .args(
            std::env::var("MSGBATCH_BENCH_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env("MSGBATCH_API_URL", format!("http://{upstream}/v1"))
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("MSGBATCH_HTTP_TOKEN")
        .env_remove("MSGBATCH_READ_ONLY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn msgbatch-mcp serve --http");
    let pid = server.id();
    let stdout = server.stdout.take().expect("stdout");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let (rows, threads, ok) = rt.block_on(async move {
        let mut lines = tokio::io::BufReader::new(
            tokio::process::ChildStdout::from_std(stdout).expect("stdout"),
        )
        .lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server starts")
            .expect("read")
            .expect("an address line");
        let mcp: SocketAddr = line
            .rsplit(' ')
            .next()
            .and_then(|u| u.strip_prefix("http://"))
            .and_then(|u| u.strip_suffix("/mcp"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));

        let cpu_before = cpu_seconds(pid);
        let ((mcp_p50, mcp_p99), (direct_p50, direct_p99)) = sequential(mcp, upstream).await;
        let cpu_per_sequential_call_us =
            (cpu_seconds(pid) - cpu_before) * 1e6 / (WARMUP + SEQUENTIAL) as f64;
        let direct_rate = throughput(Target::Direct, upstream).await;
        let cpu_before = cpu_seconds(pid);
        let mcp_rate = throughput(Target::Mcp, mcp).await;
        // What one call costs the server in CPU, whatever else the machine was running.
        let cpu_per_call_us =
            (cpu_seconds(pid) - cpu_before) * 1e6 / (CONNECTIONS * CALLS_PER_CONNECTION) as f64;
        let threads = status_field(pid, "Threads:");
        let rss_before_burst = status_field(pid, "VmHWM:") / 1024.0;
        let (ok, busy) = burst(mcp).await;
        let peak = status_field(pid, "VmHWM:") / 1024.0;
        let now = status_field(pid, "VmRSS:") / 1024.0;

        let p50_ok = mcp_p50 <= direct_p50 + TARGET_P50_OVER_DIRECT_US;
        let rate_ok = mcp_rate >= TARGET_CALLS_PER_SEC;
        let rss_ok = peak <= TARGET_PEAK_RSS_MB;
        let verdict = |b: bool| if b { "met" } else { "MISSED" };
        let rows = vec![
            format!(
                "| p50, one connection | {mcp_p50:.0} µs (p99 {mcp_p99:.0}) | {direct_p50:.0} µs (p99 {direct_p99:.0}) | +{:.0} µs | ≤ direct + {TARGET_P50_OVER_DIRECT_US:.0} µs: {} |",
                mcp_p50 - direct_p50,
                verdict(p50_ok)
            ),
            format!(
                "| server CPU per call, one connection | {cpu_per_sequential_call_us:.0} µs | | | (for the reader) |"
            ),
            format!(
                "| calls/s, {CONNECTIONS} connections | {mcp_rate:.0} | {direct_rate:.0} | {:.2}x | ≥ {TARGET_CALLS_PER_SEC:.0}: {} |",
                mcp_rate / direct_rate,
                verdict(rate_ok)
            ),
            format!(
                "| server CPU per call, {CONNECTIONS} connections | {cpu_per_call_us:.0} µs, all threads ({:.0} calls/s per core) | | | (for the reader) |",
                1e6 / cpu_per_call_us
            ),
            format!(
                "| peak RSS, {BURST_CONNECTIONS} connections at once | {peak:.1} MiB (now {now:.1}; {rss_before_burst:.1} before) | | {ok} answered 200, {busy} 503 + retry-after, 0 dropped | ≤ {TARGET_PEAK_RSS_MB:.0} MiB: {} |",
                verdict(rss_ok)
            ),
        ];
        (rows, threads, p50_ok && rate_ok && rss_ok)
    });
    let _ = server.kill();
    let _ = server.wait();

    // The server runs one worker thread per CPU it may use (`taskset` narrows that).
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!("\nmsgbatch-mcp serve --http ({bin}): {threads:.0} threads, {cpus} CPUs available");
    println!(
        "{} calls to each in turn, one connection each, after {} warm-up; {} x {} calls; {} connections in the burst\n",
        SEQUENTIAL, WARMUP, CONNECTIONS, CALLS_PER_CONNECTION, BURST_CONNECTIONS
    );
    println!("| figure | MCP over HTTP | upstream alone | difference | target (issue 9) |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "\nload average during the run (1, 5, 15 min): {}",
            load.split(' ').take(3).collect::<Vec<_>>().join(", ")
        );
    }
    if !ok {
        eprintln!("\na target of issue 9 was missed");
        std::process::exit(1);
    }
}
