//! What the person answered, read the same way in both eras, and what each answer tells the
//! model: accept (with the batches left checked), decline, closed the form, no answer in time.

use rmcp::model::{ElicitResult, ElicitationAction};

use super::form::{BATCHES_FIELD, CONFIRM_FIELD};

/// The person's answer to a confirmation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted, with these of the offered IDs left checked (maybe none).
    Accept(Vec<String>),
    /// Declined.
    Decline,
    /// Closed the form without choosing.
    Cancel,
    /// No answer within the time the form was given: counts as a decline.
    TimedOut,
    /// An answer that does not fit the form (a client bug or a forged answer): nothing is sent.
    Unreadable(String),
}

/// Which form was asked, to read its answer.
#[derive(Debug, Clone, Copy)]
pub enum Asked<'a> {
    /// The one-batch form (a checkbox).
    Single(&'a str),
    /// The several-batch form (a multi-select of these IDs).
    Bulk(&'a [String]),
}

impl Answer {
    /// Reads a client's answer to the form `asked`.
    pub fn read(result: &ElicitResult, asked: Asked<'_>) -> Self {
        match result.action {
            ElicitationAction::Accept => {}
            ElicitationAction::Decline => return Self::Decline,
            ElicitationAction::Cancel => return Self::Cancel,
            #[allow(unreachable_patterns)]
            _ => return Self::Unreadable("an action this server does not know".to_owned()),
        }
        let content = result.content.as_ref();
        match asked {
            Asked::Single(id) => match content.and_then(|c| c.get(CONFIRM_FIELD)) {
                Some(serde_json::Value::Bool(true)) => Self::Accept(vec![id.to_owned()]),
                Some(serde_json::Value::Bool(false)) => Self::Accept(Vec::new()),
                _ => Self::Unreadable(format!(
                    "the form was accepted without its `{CONFIRM_FIELD}` checkbox"
                )),
            },
            Asked::Bulk(offered) => {
                let Some(chosen) = content
                    .and_then(|c| c.get(BATCHES_FIELD))
                    .and_then(|v| v.as_array())
                else {
                    return Self::Unreadable(format!(
                        "the form was accepted without its `{BATCHES_FIELD}` list"
                    ));
                };
                let mut picked = Vec::new();
                for v in chosen {
                    match v.as_str() {
                        Some(id) if offered.iter().any(|o| o == id) => {
                            if !picked.iter().any(|p| p == id) {
                                picked.push(id.to_owned());
                            }
                        }
                        // A batch that was not offered: the answer is not the person's.
                        _ => {
                            return Self::Unreadable(format!(
                                "the answer names {v}, which was not offered in the form"
                            ));
                        }
                    }
                }
                // In the order the batches were offered, not the order the client sent them.
                Self::Accept(
                    offered
                        .iter()
                        .filter(|o| picked.contains(o))
                        .cloned()
                        .collect(),
                )
            }
        }
    }
}

/// What a call that ends without a cancel (decline, closed, timed out, nothing checked) tells
/// the model: plainly, as a result and not an error, and not to ask again on its own.
pub fn nothing_sent(answer: &Answer) -> String {
    let what = match answer {
        Answer::Decline => "The person declined the confirmation",
        Answer::Cancel => "The person closed the confirmation form without confirming",
        Answer::TimedOut => {
            "The confirmation form got no answer in time, which counts as a decline"
        }
        Answer::Accept(_) => "The person left every batch unchecked in the confirmation form",
        Answer::Unreadable(_) => "The confirmation form's answer could not be read",
    };
    format!(
        "{what}: nothing was canceled and no cancel was sent. This is the person's decision, not \
         an error: do not call the cancel tool again for these batches unless the person asks \
         you to."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accept(content: serde_json::Value) -> ElicitResult {
        ElicitResult::new(ElicitationAction::Accept).with_content(content)
    }

    #[test]
    fn single_answers() {
        let asked = Asked::Single("msgbatch_a");
        assert_eq!(
            Answer::read(&accept(json!({"confirm": true})), asked),
            Answer::Accept(vec!["msgbatch_a".into()])
        );
        assert_eq!(
            Answer::read(&accept(json!({"confirm": false})), asked),
            Answer::Accept(vec![])
        );
        assert!(matches!(
            Answer::read(&ElicitResult::new(ElicitationAction::Accept), asked),
            Answer::Unreadable(_)
        ));
        assert_eq!(
            Answer::read(&ElicitResult::new(ElicitationAction::Decline), asked),
            Answer::Decline
        );
        assert_eq!(
            Answer::read(&ElicitResult::new(ElicitationAction::Cancel), asked),
            Answer::Cancel
        );
    }

    #[test]
    fn bulk_answers_keep_only_offered_ids_in_offered_order() {
        let offered = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let asked = Asked::Bulk(&offered);
        assert_eq!(
            Answer::read(&accept(json!({"batches": ["c", "a", "a"]})), asked),
            Answer::Accept(vec!["a".into(), "c".into()])
        );
        assert!(matches!(
            Answer::read(&accept(json!({"batches": ["a", "z"]})), asked),
            Answer::Unreadable(why) if why.contains("\"z\"")
        ));
        assert!(matches!(
            Answer::read(&accept(json!({})), asked),
            Answer::Unreadable(_)
        ));
        let text = nothing_sent(&Answer::Decline);
        assert!(text.contains("no cancel was sent"), "{text}");
        assert!(text.contains("unless the person asks"), "{text}");
    }
}
