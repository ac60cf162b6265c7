//! The `msgbatch-mcp` command line: parse, pick a mode, run it. Everything else is in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use msgbatch_mcp::config::{ApiSettings, ToolSettings};
use msgbatch_mcp::transport::{http, shutdown, stdio};
use msgbatch_mcp::{demo, logging, simulator, skill};

mod allocator;

const AFTER_HELP: &str = "\
With no command, serves MCP on stdio. Add it to Claude Code with:
  claude mcp add msgbatch --env ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY \\
      --env MSGBATCH_API_URL=https://api.anthropic.com/v1 -- /path/to/msgbatch-mcp
For a team: `msgbatch-mcp serve --http 0.0.0.0:8000` with MSGBATCH_HTTP_TOKEN set (see the
README, \"Serve a team\").
Offline: `msgbatch-mcp mock` serves a simulator at the default URL; `msgbatch-mcp demo` shows
the whole job end to end. Logs go to stderr (RUST_LOG=debug for more).";

/// MCP server that cancels Anthropic Message Batches, and finds and follows them.
#[derive(Debug, Parser)]
#[command(name = "msgbatch-mcp", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    api: ApiSettings,

    #[command(flatten)]
    tools: ToolSettings,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP on stdio (the default), or with --http over Streamable HTTP for a team.
    Serve(http::HttpArgs),
    /// Serve the embedded Message Batches API simulator (what the default URL expects).
    Mock(simulator::SimArgs),
    /// Run the whole job end to end, offline: simulator, server and an agent.
    Demo(demo::DemoArgs),
    /// Install the Agent Skill for Claude Code (~/.claude/skills/cancel-message-batch/SKILL.md).
    InstallSkill(skill::InstallSkillArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own story on stdout; only problems belong on stderr.
    logging::init(if matches!(cli.command, Some(Command::Demo(_))) {
        "warn"
    } else {
        logging::DEFAULT_FILTER
    });
    if let Some(Command::InstallSkill(args)) = &cli.command {
        return match skill::install(args) {
            Ok(path) => {
                println!(
                    "Installed the cancel-message-batch skill at {}",
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => report::<skill::SkillError>(Err(e)),
        };
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("msgbatch-mcp: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            // `msgbatch-mcp` alone is always stdio, whatever the environment says.
            None => report(stdio::stdio(cli.api.resolve(), &cli.tools).await),
            Some(Command::Serve(args)) if args.addr.is_none() => {
                report(stdio::stdio(cli.api.resolve(), &cli.tools).await)
            }
            Some(Command::Serve(args)) => {
                let served = http::serve(&args, cli.api.resolve(), &cli.tools, |addr| {
                    // For scripts and tests that listen on port 0: the one line on stdout.
                    println!("msgbatch-mcp: serving MCP at http://{addr}/mcp");
                })
                .await;
                report(served)
            }
            Some(Command::Mock(args)) => report(mock(&args).await),
            Some(Command::Demo(args)) => report(demo::run(&args).await),
            Some(Command::InstallSkill(_)) => ExitCode::SUCCESS,
        }
    });
    // A blocking stdin read (when stdin is a terminal, not a pipe) cannot be interrupted:
    // do not let it hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// The async runtime for `command`: one thread.
///
/// stdio, the simulator and the demo serve one agent, one message at a time, waiting on the
/// network: one thread serves them best (smallest memory, no cross-thread hand-offs).
/// `serve --http` starts its other workers itself, each a runtime of its own on its own thread
/// (`transport::http`, workers.rs), with this one accepting and serving its share.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// `msgbatch-mcp mock`: the simulator in the foreground until Ctrl-C or SIGTERM.
async fn mock(args: &simulator::SimArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e}. Is a simulator already running there? \
                 Pick another address with --listen 127.0.0.1:0 (any free port).",
                args.listen
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "Message Batches API simulator on http://{addr}\n  \
         MSGBATCH_API_URL=http://{addr}{}\n  \
         official SDKs: base URL http://{addr} (paths under {})\nCtrl-C stops it.",
        simulator::SANDBOX_PREFIX,
        simulator::V1_PREFIX
    );
    simulator::serve(listener, args.into(), shutdown::signal())
        .await
        .map_err(|e| e.to_string())
}

/// The exit code for `result`; a failure is said once, on stderr, where the logs go too (a log
/// line as well would print the same text twice in a row).
fn report<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msgbatch-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
