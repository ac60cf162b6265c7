//! `cargo bench --bench http`: `msgbatch-mcp serve --http` next to what else one could run in
//! front of the same upstream: nothing (the upstream alone), and one nginx hop.
//!
//! Everything runs on this machine, over loopback, unpinned as users run it. The benchmark
//! starts an upstream (axum, one thread) that answers `POST /v1/messages/batches/{id}/cancel` at
//! once with a fixed batch that echoes the ID; nginx as a do-nothing reverse proxy in front of it
//! (from the OS packages: `apt-get install nginx-light`; started here on loopback with its own
//! config in a temporary directory, `worker_processes auto`, kept-alive upstream connections;
//! `MSGBATCH_BENCH_NGINX` names another binary; without nginx its row and the two goals
//! measured against it are skipped, with a line that says so); and the release binary as
//! `serve --http 127.0.0.1:0` in front of the same upstream (`MSGBATCH_BENCH_BIN` names another
//! binary, `MSGBATCH_BENCH_ARGS` adds server flags). The three are timed in turns, so that all
//! see the same machine (a shared VM's speed drifts by tens of µs over a second):
//!
//! - p50 of one call at one keep-alive connection, call by call in turns: the same cancel
//!   straight to the upstream, through nginx, and as an MCP `tools/call` (`cancel_message_batch`).
//!   Goal: the server's added p50 (over the upstream alone) at most 3x the nginx hop's;
//! - calls/s at 64 connections, one call at a time on each, in rounds that take turns; the median
//!   round of each. Goal: the server at least 0.5x the nginx hop;
//! - the server's peak RSS (`VmHWM`) after 1,000 connections, opened at once, each sending one
//!   call. Goal: at most 32 MiB (a full server may answer 503 with `retry-after`, but every
//!   connection gets an answer);
//! - no errors: every answer is checked (a 200 whose JSON-RPC result carries the batch ID sent
//!   and no `"isError":true`; a 503 only in the burst), and any other answer stops the run.
//!
//! It also prints the server's CPU time per call (from `/proc/PID/stat`): the part of its cost
//! that is its own work, whatever the scheduler did.
//!
//! The load comes from one thread of this process, over raw HTTP/1.1 with ready-made requests,
//! so that the client is not what gets measured. It prints a table and exits non-zero when a goal
//! is missed.

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
/// Throughput rounds per target, taking turns; each round is `CONNECTIONS` x `CALLS_PER_ROUND`.
const ROUNDS: usize = 3;
const CALLS_PER_ROUND: usize = 150;
const BURST_CONNECTIONS: usize = 1_000;

/// The server's added p50 over the nginx hop's, at most.
const GOAL_ADDED_P50_RATIO: f64 = 3.0;
/// The server's calls/s at 64 connections over the nginx hop's, at least.
const GOAL_RATE_RATIO: f64 = 0.5;
/// Read as MiB, as VmHWM counts (the stdio benchmark's goals are MiB too).
const GOAL_PEAK_RSS_MB: f64 = 32.0;

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

/// p50 and p99, in µs, of one call at a time on one keep-alive connection to each target,
/// taking turns call by call so that all see the same machine.
async fn sequential(targets: &[(Target, SocketAddr)]) -> Vec<(f64, f64)> {
    let mut conns = Vec::new();
    for (_, addr) in targets {
        conns.push(Conn::open(*addr).await);
    }
    for n in 0..WARMUP {
        for ((target, addr), conn) in targets.iter().zip(conns.iter_mut()) {
            conn.call(*target, *addr, &id(0, n), n).await;
        }
    }
    let mut times: Vec<Vec<f64>> = targets
        .iter()
        .map(|_| Vec::with_capacity(SEQUENTIAL))
        .collect();
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
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[t.len() / 2], t[t.len() * 99 / 100])
        })
        .collect()
}

/// Calls per second over `CONNECTIONS` connections, one call at a time on each, for one round.
async fn throughput(target: Target, addr: SocketAddr, round: usize) -> f64 {
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
                for n in 0..CALLS_PER_ROUND {
                    let k = round * CALLS_PER_ROUND + n;
                    let a = conn.call(target, addr, &id(c, k), k).await;
                    assert_eq!(a, Answer::Ok);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a connection's calls");
    }
    (CONNECTIONS * CALLS_PER_ROUND) as f64 / t.elapsed().as_secs_f64()
}

/// The median round's calls/s of each target, the rounds taking turns (target by target).
async fn throughputs(targets: &[(Target, SocketAddr)]) -> Vec<f64> {
    let mut rates: Vec<Vec<f64>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        for ((target, addr), rates) in targets.iter().zip(rates.iter_mut()) {
            rates.push(throughput(*target, *addr, round).await);
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
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

// ---------------------------------------------------------------------------------------------
// The nginx hop.

/// nginx as a do-nothing reverse proxy in front of the upstream; stopped when dropped.
struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
    version: String,
    // Holds the config, logs and temp paths until nginx stops.
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master: a fast shutdown of it and its workers.
        // SAFETY: kill has no memory preconditions; the pid is our own child's.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The nginx binary: `MSGBATCH_BENCH_NGINX`, or `nginx` on PATH or in /usr/sbin (where Debian
/// puts it, often not on a user's PATH).
fn nginx_bin() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MSGBATCH_BENCH_NGINX") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// Starts nginx on a free loopback port with its own config, proxying to `upstream`; `Err` says
/// why not (not installed, or it would not start).
fn start_nginx(upstream: SocketAddr) -> Result<Nginx, String> {
    let bin = nginx_bin().ok_or(
        "nginx not found (apt-get install nginx-light, or set MSGBATCH_BENCH_NGINX)".to_owned(),
    )?;
    let version = Command::new(&bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .map_err(|e| format!("{} -v: {e}", bin.display()))?;
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    // A free port: nginx cannot listen on port 0 and say which it got.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let d = dir.path().display();
    let conf = format!(
        r#"daemon off;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    upstream api {{
        server {upstream};
        keepalive 128;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| format!("writing the nginx config: {e}"))?;
    let child = Command::new(&bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let nginx = Nginx {
        child,
        addr,
        version,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(nginx._dir.path().join("error.log")).unwrap_or_default();
            return Err(format!("nginx did not listen on {addr} within 10 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(nginx)
}

fn server_bin() -> String {
    std::env::var("MSGBATCH_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_msgbatch-mcp").into())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument would mean nothing here.
    let upstream = start_upstream();
    let nginx = start_nginx(upstream);
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
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let nginx_addr = nginx.as_ref().ok().map(|n| n.addr);
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

        // Upstream alone, the nginx hop (if any), the server: in this order in every turn.
        let mut targets = vec![(Target::Direct, upstream)];
        targets.extend(nginx_addr.map(|a| (Target::Direct, a)));
        targets.push((Target::Mcp, mcp));

        let cpu_before = cpu_seconds(pid);
        let p = sequential(&targets).await;
        let cpu_per_sequential_call_us =
            (cpu_seconds(pid) - cpu_before) * 1e6 / (WARMUP + SEQUENTIAL) as f64;
        let cpu_before = cpu_seconds(pid);
        let r = throughputs(&targets).await;
        // What one call costs the server in CPU, whatever else the machine was running.
        let cpu_per_call_us = (cpu_seconds(pid) - cpu_before) * 1e6
            / (ROUNDS * CONNECTIONS * CALLS_PER_ROUND) as f64;
        let threads = status_field(pid, "Threads:");
        let rss_before_burst = status_field(pid, "VmHWM:") / 1024.0;
        let (answered, busy) = burst(mcp).await;
        let peak = status_field(pid, "VmHWM:") / 1024.0;
        let now = status_field(pid, "VmRSS:") / 1024.0;

        let ((up_p50, up_p99), up_rate) = (p[0], r[0]);
        let ((mcp_p50, mcp_p99), mcp_rate) = (*p.last().unwrap(), *r.last().unwrap());
        let hop = nginx_addr.map(|_| (p[1], r[1]));
        let verdict = |b: bool| if b { "met" } else { "MISSED" };
        let mut ok = true;
        let mut rows = Vec::new();
        let cell = |p50: f64, p99: f64| format!("{p50:.0} µs (+{:.0}; p99 {p99:.0})", p50 - up_p50);
        match hop {
            Some(((hop_p50, hop_p99), hop_rate)) => {
                let ratio = (mcp_p50 - up_p50) / (hop_p50 - up_p50);
                let p50_ok = ratio <= GOAL_ADDED_P50_RATIO;
                let rate_ratio = mcp_rate / hop_rate;
                let rate_ok = rate_ratio >= GOAL_RATE_RATIO;
                ok &= p50_ok && rate_ok;
                rows.push(format!(
                    "| p50, one connection | {up_p50:.0} µs (p99 {up_p99:.0}) | {} | {} | {ratio:.2}x the hop's added p50 | ≤ {GOAL_ADDED_P50_RATIO:.0}x: {} |",
                    cell(hop_p50, hop_p99),
                    cell(mcp_p50, mcp_p99),
                    verdict(p50_ok)
                ));
                rows.push(format!(
                    "| calls/s, {CONNECTIONS} connections (median of {ROUNDS} rounds) | {up_rate:.0} | {hop_rate:.0} | {mcp_rate:.0} | {rate_ratio:.2}x the hop's | ≥ {GOAL_RATE_RATIO}x: {} |",
                    verdict(rate_ok)
                ));
            }
            None => {
                rows.push(format!(
                    "| p50, one connection | {up_p50:.0} µs (p99 {up_p99:.0}) | skipped | {} | | not checked: no nginx |",
                    cell(mcp_p50, mcp_p99)
                ));
                rows.push(format!(
                    "| calls/s, {CONNECTIONS} connections (median of {ROUNDS} rounds) | {up_rate:.0} | skipped | {mcp_rate:.0} | | not checked: no nginx |"
                ));
            }
        }
        rows.push(format!(
            "| server CPU per call, one connection / {CONNECTIONS} | | | {cpu_per_sequential_call_us:.0} µs / {cpu_per_call_us:.0} µs (all threads) | | (for the reader) |"
        ));
        let rss_ok = peak <= GOAL_PEAK_RSS_MB;
        ok &= rss_ok;
        rows.push(format!(
            "| peak RSS, {BURST_CONNECTIONS} connections at once | | | {peak:.1} MiB (now {now:.1}; {rss_before_burst:.1} before) | {answered} answered 200, {busy} 503 + retry-after, 0 dropped | ≤ {GOAL_PEAK_RSS_MB:.0} MiB: {} |",
            verdict(rss_ok)
        ));
        (rows, threads, ok)
    });
    let _ = server.kill();
    let _ = server.wait();
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // The server runs one worker thread per CPU it may use (`taskset` narrows that).
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!("\nmsgbatch-mcp serve --http ({bin}): {threads:.0} threads, {cpus} CPUs available");
    match &nginx {
        Ok(n) => println!("nginx hop: {} (worker_processes auto)", n.version),
        Err(why) => println!(
            "nginx hop: SKIPPED, {why}: its row and the two goals measured against it are not checked"
        ),
    }
    println!(
        "{SEQUENTIAL} calls to each in turn on one connection each, after {WARMUP} warm-up; \
         {ROUNDS} rounds of {CONNECTIONS} x {CALLS_PER_ROUND} calls each in turn; \
         {BURST_CONNECTIONS} connections in the burst; no errors (every answer checked)\n"
    );
    println!(
        "| `tools/call` cancel | upstream alone | nginx hop in front of it | msgbatch-mcp serve --http | ratio | goal |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    let load = |l: &str| l.split(' ').take(3).collect::<Vec<_>>().join(", ");
    println!(
        "\nload average (1, 5, 15 min): {} before, {} after",
        load(&load_before),
        load(&load_after)
    );
    drop(nginx);
    if !ok {
        eprintln!("\na goal was missed");
        std::process::exit(1);
    }
}
