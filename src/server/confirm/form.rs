//! What the person sees before a cancel: one short question first, for a person in a hurry,
//! then each batch (ID, age, status, requests and what is known of them) and what a cancel
//! means; and the form's fields (a checkbox for one batch, a multi-select of checked batches
//! for several, so that the person can uncheck some).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use rmcp::model::{
    BooleanSchema, ElicitRequestParams, ElicitationSchema, EnumSchema, PrimitiveSchemaDefinition,
};

use crate::api::{MessageBatch, ProcessingStatus};
use crate::server::report::counts_pending;

/// The field of the one-batch form: checked (the default) means "cancel it".
pub const CONFIRM_FIELD: &str = "confirm";
/// The field of the several-batch form: the IDs left checked are the ones canceled.
pub const BATCHES_FIELD: &str = "batches";

/// What a cancel means, said on every form: the part people get wrong.
pub const WHAT_CANCEL_MEANS: &str = "A cancel cannot be undone. Requests not yet started are \
stopped and not billed; requests already running may still complete, and those are billed as \
usual. The batch becomes `canceling`, then `ended`; results of the requests that finished stay \
available.";

/// Said while the API counts every request as `processing` (it reports how requests ended only
/// when the batch ends): never "0 done", which would be false.
const COUNTS_UNKNOWN: &str = "the API counts every request as processing until the batch ends, \
so how many have already run is not known";

/// A batch that is not offered in the form, and why.
#[derive(Debug, Clone)]
pub struct NotOffered {
    pub id: String,
    pub why: String,
}

/// The form for one batch.
pub fn single(batch: &MessageBatch, now: SystemTime) -> ElicitRequestParams {
    let mut message = format!(
        "Cancel batch {} ({}, {})?\n\n",
        batch.id,
        requests(batch.request_counts.total()),
        created(batch, now)
    );
    let _ = writeln!(message, "{}", describe(batch, now));
    let _ = write!(message, "\n{WHAT_CANCEL_MEANS}");
    let field = BooleanSchema::new()
        .title(format!("Cancel {}", batch.id))
        .description("Leave checked and accept to cancel it; decline to keep it running.")
        .with_default(true);
    let schema = ElicitationSchema::builder()
        .required_property(CONFIRM_FIELD, PrimitiveSchemaDefinition::Boolean(field))
        .title("Cancel a message batch")
        .build_unchecked();
    form(message, schema)
}

/// The form for several batches: each offered batch is a checked option.
pub fn bulk(
    offered: &[MessageBatch],
    not_offered: &[NotOffered],
    now: SystemTime,
) -> ElicitRequestParams {
    // Checked: counts that cannot be right (past u64, or past a batch's limit) make the total
    // unknown, never a wrapped number.
    let total = offered
        .iter()
        .try_fold(0u64, |sum, b| sum.checked_add(b.request_counts.total()?));
    let oldest = offered
        .iter()
        .min_by(|a, b| a.created_at.cmp(&b.created_at))
        .map(|b| created(b, now))
        .unwrap_or_default();
    let mut message = format!(
        "Cancel {} batches ({} in all; oldest {oldest})?\n\n",
        offered.len(),
        requests(total)
    );
    for b in offered {
        let _ = writeln!(message, "- {}", describe(b, now));
    }
    if !not_offered.is_empty() {
        message.push_str("\nNot offered (nothing will be sent for them):\n");
        for n in not_offered {
            let _ = writeln!(message, "- {}: {}", n.id, n.why);
        }
    }
    let _ = write!(
        message,
        "\nUncheck any batch to keep it running. {WHAT_CANCEL_MEANS}"
    );
    let ids: Vec<String> = offered.iter().map(|b| b.id.clone()).collect();
    let titles: Vec<String> = offered.iter().map(|b| option_title(b, now)).collect();
    let field = EnumSchema::builder(ids.clone())
        .multiselect()
        .enum_titles(titles)
        .and_then(|b| b.with_default(ids))
        .map(|b| {
            b.title("Batches to cancel")
                .description("Checked batches are canceled; unchecked ones keep running.")
                .build()
        });
    let schema = match field {
        Ok(field) => ElicitationSchema::builder()
            .required_property(BATCHES_FIELD, PrimitiveSchemaDefinition::Enum(field))
            .title("Cancel message batches")
            .build_unchecked(),
        // Titles and defaults are made from the same list, so this cannot happen; an empty
        // form would still be declined or accepted with nothing checked: nothing is canceled.
        Err(e) => {
            tracing::error!(error = %e, "confirmation form could not be built");
            ElicitationSchema::builder().build_unchecked()
        }
    };
    form(message, schema)
}

fn form(message: String, requested_schema: ElicitationSchema) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema,
    }
}

/// "msgbatch_… · in_progress · 10,000 requests · created 2 h ago": one option of the multi-select.
fn option_title(b: &MessageBatch, now: SystemTime) -> String {
    format!(
        "{} · {} · {} · {}",
        b.id,
        b.processing_status,
        requests(b.request_counts.total()),
        created(b, now)
    )
}

/// One batch, in full: ID, age, status, requests and what is known of them.
fn describe(b: &MessageBatch, now: SystemTime) -> String {
    let c = &b.request_counts;
    let known = if counts_pending(b) {
        COUNTS_UNKNOWN.to_owned()
    } else {
        format!(
            "{} done so far ({} succeeded, {} errored, {} canceled, {} expired), {} processing",
            c.done()
                .map_or_else(|| "an unknown number".to_owned(), |d| d.to_string()),
            c.succeeded,
            c.errored,
            c.canceled,
            c.expired,
            c.processing
        )
    };
    let status = match b.processing_status.known() {
        Some(ProcessingStatus::InProgress) => "in_progress (running)".to_owned(),
        _ => b.processing_status.to_string(),
    };
    format!(
        "{}: {} ({}), status {status}, {}: {known}. Expires {} if it does not finish.",
        b.id,
        created(b, now),
        b.created_at,
        requests(c.total()),
        b.expires_at
    )
}

/// "created 2 h ago", or "created at <time>" when the time cannot be read or is ahead of ours.
fn created(b: &MessageBatch, now: SystemTime) -> String {
    match humantime::parse_rfc3339_weak(&b.created_at)
        .ok()
        .and_then(|t| now.duration_since(t).ok())
    {
        Some(age) => format!("created {} ago", age_text(age)),
        None => format!("created at {}", b.created_at),
    }
}

/// A rough age, as a person says it: "40 s", "12 min", "2 h", "3 days".
fn age_text(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// "1 request", "10,000 requests"; counts that cannot be right (see
/// [`crate::api::types::RequestCounts::total`]) say so instead of a number.
fn requests(n: Option<u64>) -> String {
    let Some(n) = n else {
        return "an unknown number of requests (the API's counts cannot be right)".to_owned();
    };
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{grouped} request{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: &str, status: &str, processing: u64, succeeded: u64) -> MessageBatch {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": "message_batch", "processing_status": status,
            "request_counts": {"processing": processing, "succeeded": succeeded, "errored": 0,
                               "canceled": 0, "expired": 0},
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
            "archived_at": null, "cancel_initiated_at": null, "ended_at": null,
            "results_url": null
        }))
        .unwrap()
    }

    fn at(hours: u64) -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
            + Duration::from_secs(hours * 3600)
    }

    #[test]
    fn the_one_line_question_comes_first() {
        let b = batch("msgbatch_a", "in_progress", 10_000, 0);
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = single(&b, at(2))
        else {
            panic!("not a form");
        };
        let first = message.lines().next().unwrap();
        assert_eq!(
            first,
            "Cancel batch msgbatch_a (10,000 requests, created 2 h ago)?"
        );
        assert!(
            message.contains("counts every request as processing"),
            "{message}"
        );
        assert!(!message.contains("0 done"), "{message}");
        assert!(
            message.contains("may still complete, and those are billed"),
            "{message}"
        );
        let schema = serde_json::to_value(&requested_schema).unwrap();
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
        assert_eq!(schema["properties"]["confirm"]["default"], true);
        assert_eq!(schema["required"], serde_json::json!(["confirm"]));
    }

    #[test]
    fn progress_the_api_reports_is_shown_as_it_is() {
        let b = batch("msgbatch_a", "in_progress", 6, 4);
        let text = describe(&b, at(1));
        assert!(text.contains("4 done so far (4 succeeded"), "{text}");
    }

    #[test]
    fn the_bulk_form_checks_every_offered_batch() {
        let offered = [
            batch("msgbatch_a", "in_progress", 10, 0),
            batch("msgbatch_b", "in_progress", 1, 0),
        ];
        let not = [NotOffered {
            id: "msgbatch_c".into(),
            why: "it has already ended".into(),
        }];
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = bulk(&offered, &not, at(50))
        else {
            panic!("not a form");
        };
        assert!(
            message
                .starts_with("Cancel 2 batches (11 requests in all; oldest created 2 days ago)?"),
            "{message}"
        );
        assert!(
            message.contains("- msgbatch_c: it has already ended"),
            "{message}"
        );
        let schema = serde_json::to_value(&requested_schema).unwrap();
        let field = &schema["properties"]["batches"];
        assert_eq!(field["type"], "array");
        assert_eq!(
            field["default"],
            serde_json::json!(["msgbatch_a", "msgbatch_b"])
        );
        assert_eq!(field["items"]["anyOf"][1]["const"], "msgbatch_b");
        assert_eq!(
            field["items"]["anyOf"][1]["title"],
            "msgbatch_b · in_progress · 1 request · created 2 days ago"
        );
    }

    #[test]
    fn ages_and_counts_read_as_a_person_says_them() {
        assert_eq!(age_text(Duration::from_secs(40)), "40 s");
        assert_eq!(age_text(Duration::from_secs(720)), "12 min");
        assert_eq!(age_text(Duration::from_secs(7200)), "2 h");
        assert_eq!(requests(Some(1)), "1 request");
        assert_eq!(requests(Some(100)), "100 requests");
        assert_eq!(requests(Some(1_234_567)), "1,234,567 requests");
        let mut b = batch("x", "in_progress", 1, 0);
        b.created_at = "yesterday".into();
        assert_eq!(created(&b, at(1)), "created at yesterday");
    }
}
