//! MCP prompts: the jobs a person starts by name (Claude Code shows them as slash commands,
//! `/mcp__msgbatch__stop-batch`), each a short user message that tells the agent which tools
//! to use in which order, and to confirm with the person before canceling more than one batch.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{PromptMessage, Role};
use rmcp::{ErrorData, prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::BatchServer;
use crate::api::BatchId;

/// The tools each prompt tells the agent to use. A prompt some of whose tools are not offered
/// (read-only mode hides the ones that cancel) is not offered either: it would send the agent
/// to a tool that only answers that the server is read-only.
pub(super) const PROMPT_TOOLS: &[(&str, &[&str])] = &[
    ("stop-batch", &["get_message_batch", "cancel_message_batch"]),
    (
        "stop-all-running",
        &[
            "list_message_batches",
            "cancel_message_batches",
            "cancel_message_batch",
        ],
    ),
];

/// Arguments of `stop-batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct StopBatchArgs {
    /// ID of the batch to stop, e.g. msgbatch_013Zva2CMHLNnXjNJJKqJ2EF.
    pub message_batch_id: String,
}

#[prompt_router(vis = "pub(super)")]
impl BatchServer {
    /// Stop one batch by its ID and report what the cancel saved.
    #[prompt(
        name = "stop-batch",
        title = "Stop a message batch",
        description = "Stop one Message Batch by its ID: check it, cancel it, follow it to \
                       `ended` and report what the cancel saved."
    )]
    pub async fn stop_batch(
        &self,
        Parameters(args): Parameters<StopBatchArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        // The ID goes into the agent's instructions: only a real-looking one does.
        let id = BatchId::parse(&args.message_batch_id)
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        Ok(vec![PromptMessage::new_text(
            Role::User,
            stop_batch_text(&id),
        )])
    }

    /// Stop every batch still running, after the person confirms which.
    #[prompt(
        name = "stop-all-running",
        title = "Stop all running message batches",
        description = "Find every Message Batch still in progress, confirm the list with me, \
                       cancel them in one call and report each outcome."
    )]
    pub async fn stop_all_running(&self) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(Role::User, STOP_ALL_RUNNING)]
    }
}

fn stop_batch_text(id: &BatchId) -> String {
    format!(
        "Stop my Anthropic Message Batch {id}, with the msgbatch tools, in this order:\n\
         1. get_message_batch with message_batch_id \"{id}\": if it is not `in_progress`, tell \
         me so (already canceling, or ended: nothing to cancel) and stop there.\n\
         2. cancel_message_batch with message_batch_id \"{id}\" and wait_seconds 60, to \
         follow it to `ended`.\n\
         3. Tell me what it came to: `canceled` requests never ran (that is what the cancel \
         saved), `succeeded` ones ran and are billed. If it is still `canceling`, say that \
         requests already running may still complete.\n\
         Cancel only this batch. If I seem to mean more than one, confirm the list with me \
         before canceling more than one."
    )
}

const STOP_ALL_RUNNING: &str = "Stop all my running Anthropic Message Batches, with the \
msgbatch tools, in this order:\n\
1. list_message_batches (limit 100; while has_more, call again with after_id = last_id) and \
keep the batches whose processing_status is `in_progress`. If there are none, tell me and stop.\n\
2. Show me those batches (ID, created time, request counts) and ask me to confirm before \
canceling more than one. Cancel only the ones I confirm.\n\
3. cancel_message_batches once, with all the confirmed IDs and wait_seconds 60, to follow \
them to `ended` (one batch only: cancel_message_batch).\n\
4. Tell me each batch's outcome and the summary line: `canceled` requests never ran (saved), \
`succeeded` ones ran and are billed; a batch still `canceling` may finish requests already \
running.";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prompt says which tools it uses, and its text names each of them.
    #[test]
    fn every_prompt_lists_the_tools_its_text_names() {
        let mut listed: Vec<_> = PROMPT_TOOLS.iter().map(|(p, _)| p.to_string()).collect();
        let mut routed: Vec<_> = BatchServer::prompt_router()
            .list_all()
            .into_iter()
            .map(|p| p.name)
            .collect();
        listed.sort();
        routed.sort();
        assert_eq!(listed, routed);
        let id = BatchId::parse("msgbatch_x").unwrap();
        for (prompt, tools) in PROMPT_TOOLS {
            let text = match *prompt {
                "stop-batch" => stop_batch_text(&id),
                _ => STOP_ALL_RUNNING.to_owned(),
            };
            for tool in *tools {
                assert!(text.contains(tool), "{prompt} does not name {tool}");
            }
        }
    }

    #[test]
    fn prompts_name_the_tools_in_order_and_ask_to_confirm() {
        let id = BatchId::parse("msgbatch_x").unwrap();
        let t = stop_batch_text(&id);
        let get = t.find("get_message_batch").unwrap();
        let cancel = t.find("cancel_message_batch").unwrap();
        assert!(get < cancel, "{t}");
        assert!(t.contains("confirm"), "{t}");
        let t = STOP_ALL_RUNNING;
        let list = t.find("list_message_batches").unwrap();
        let confirm = t.find("confirm").unwrap();
        let bulk = t.find("cancel_message_batches").unwrap();
        assert!(list < confirm && confirm < bulk, "{t}");
    }
}
