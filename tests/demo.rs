//! The README's first command, `msgbatch-mcp demo`, runs the whole job offline and exits 0.

use std::process::Command;

#[test]
fn demo_cancels_a_batch_end_to_end_offline() {
    let out = Command::new(env!("CARGO_BIN_EXE_msgbatch-mcp"))
        .arg("demo")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("MSGBATCH_API_URL")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for seen in [
        "cancel_message_batch",
        "cancel_message_batches",
        "2 batches: 2 canceling.",
        "get_message_batch",
        "list_message_batches",
        "[can cancel]",
        "progress: canceling",
        "progress: ",
        "The cancel is complete",
        "has ended.",
        "has already ended, so there is nothing to cancel",
        // The person sees what will stop before each cancel, and approves it.
        "form shown to the person:",
        "| Cancel 2 batches (3,600 requests in all",
        "| Cancel batch msgbatch_013Zva2CMHLNnXjNJJKqJ2EF (10,000 requests",
        "requests already running may still complete, and those are billed",
        "The person confirmed all 2 batches offered in a form before the cancels were sent.",
    ] {
        assert!(
            stdout.contains(seen),
            "demo output lacks {seen:?}:\n{stdout}"
        );
    }
}
