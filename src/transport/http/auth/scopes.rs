//! Scopes as permissions: which scopes a token grants, and which requests need the cancel
//! scope.
//!
//! `batches:read` lets a caller in (get, list, results); the tools that change batches also
//! need `batches:cancel` (names set by `MSGBATCH_OAUTH_READ_SCOPE` / `_CANCEL_SCOPE`). A call
//! to one of them without it is answered 403 `insufficient_scope` before it reaches the tools
//! ([`cancel_call`] finds it in the body), so that a client can ask the user for more.

use serde::Deserialize;

/// The scope names.
#[derive(Debug, Clone)]
pub struct ScopeNames {
    pub read: String,
    pub cancel: String,
}

/// What a set of granted scopes allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub read: bool,
    pub cancel: bool,
}

impl ScopeNames {
    pub fn grant(&self, scopes: &[String]) -> Grant {
        Grant {
            read: scopes.contains(&self.read),
            cancel: scopes.contains(&self.cancel),
        }
    }

    /// Both, as a `scope` parameter says them.
    pub fn both(&self) -> String {
        format!("{} {}", self.read, self.cancel)
    }
}

/// A `tools/call` of a tool that changes batches, found in a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelCall {
    pub tool: String,
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The first call, in a JSON-RPC message or batch, to one of `tools` (the tools that change
/// batches). A body that does not parse is left to the body check and rmcp.
pub fn cancel_call(body: &[u8], tools: &[String]) -> Option<CancelCall> {
    let messages: Vec<Message> = match serde_json::from_slice::<serde_json::Value>(body).ok()? {
        v @ serde_json::Value::Object(_) => vec![serde_json::from_value(v).ok()?],
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => return None,
    };
    messages.into_iter().find_map(|m| {
        let params = m.params?;
        let name = params.name?;
        (m.method.as_deref() == Some("tools/call") && tools.contains(&name)).then_some(CancelCall {
            tool: name,
            arguments: params.arguments,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_calls_of_the_tools_that_cancel_and_nothing_else() {
        let tools = vec!["cancel_message_batch".to_owned()];
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cancel_message_batch","arguments":{"message_batch_id":"msgbatch_a"}}}"#;
        let found = cancel_call(call, &tools).unwrap();
        assert_eq!(found.tool, "cancel_message_batch");
        assert_eq!(found.arguments.unwrap()["message_batch_id"], "msgbatch_a");
        let get = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_message_batch"}}"#;
        assert!(cancel_call(get, &tools).is_none());
        let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(cancel_call(list, &tools).is_none());
        let batch = br#"[{"jsonrpc":"2.0","method":"ping","id":2},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"cancel_message_batch"}}]"#;
        assert!(cancel_call(batch, &tools).is_some());
    }

    #[test]
    fn grants_by_exact_name() {
        let names = ScopeNames {
            read: "batches:read".into(),
            cancel: "batches:cancel".into(),
        };
        let g = names.grant(&["batches:read".into(), "batches:cancelx".into()]);
        assert_eq!(
            g,
            Grant {
                read: true,
                cancel: false
            }
        );
    }
}
