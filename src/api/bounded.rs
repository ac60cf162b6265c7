//! Decoding a batch and a page within a budget: a few unknown fields kept, the rest counted and
//! skipped; at most [`MAX_PAGE_ITEMS`] batches a page.
//!
//! Unknown fields are kept so that a newer API's additions reach the client (see
//! [`super::types`]), but a hostile upstream once sent a 200 with 400,000 of them (7 MB): it
//! became a 7.4 MB MCP answer and cost ~190 MiB a call, most of it in serde's buffering for
//! `#[serde(flatten)]`, which holds every field of the object before the struct is built. These
//! hand-written decoders read each field once, straight into its place; an unknown field is kept
//! while [`MAX_EXTRA_FIELDS`] and [`MAX_EXTRA_VALUES`] allow and skipped (without being built)
//! after, so that what a batch holds is bounded whatever the answer. A page's batches past
//! [`MAX_PAGE_ITEMS`] (the API's largest `limit`) are skipped the same way and counted.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::types::{BatchPage, MessageBatch};

/// Unknown fields kept on one object; more are skipped and counted.
pub const MAX_EXTRA_FIELDS: usize = 16;
/// JSON values (each scalar, string, array, object) the unknown fields kept may hold together.
pub const MAX_EXTRA_VALUES: usize = 256;
/// Batches kept from one page: the API's largest `limit`. Past it, batches are skipped.
pub const MAX_PAGE_ITEMS: usize = 1000;

/// Reads one unknown field's value if it fits in what is `left` of the budget (and takes it from
/// there); otherwise skips the rest of it without building it, and gives `None`.
struct Budgeted<'a> {
    left: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for Budgeted<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Budgeted<'_> {
    /// Takes one value from the budget; false when none is left.
    fn take(&mut self) -> bool {
        match self.left.checked_sub(1) {
            Some(n) => {
                *self.left = n;
                true
            }
            None => false,
        }
    }
}

impl<'de> Visitor<'de> for Budgeted<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<Self::Value, E> {
        Ok(self.take().then_some(Value::Bool(v)))
    }
    fn visit_i64<E>(mut self, v: i64) -> Result<Self::Value, E> {
        Ok(self.take().then(|| Value::from(v)))
    }
    fn visit_u64<E>(mut self, v: u64) -> Result<Self::Value, E> {
        Ok(self.take().then(|| Value::from(v)))
    }
    fn visit_f64<E>(mut self, v: f64) -> Result<Self::Value, E> {
        Ok(self.take().then(|| Value::from(v)))
    }
    fn visit_str<E>(mut self, v: &str) -> Result<Self::Value, E> {
        Ok(self.take().then(|| Value::from(v)))
    }
    fn visit_string<E>(mut self, v: String) -> Result<Self::Value, E> {
        Ok(self.take().then(|| Value::from(v)))
    }
    fn visit_unit<E>(mut self) -> Result<Self::Value, E> {
        Ok(self.take().then_some(Value::Null))
    }
    fn visit_none<E>(mut self) -> Result<Self::Value, E> {
        Ok(self.take().then_some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Some(Vec::new()).filter(|_| self.take());
        loop {
            match &mut items {
                Some(kept) => match seq.next_element_seed(Budgeted {
                    left: &mut *self.left,
                })? {
                    Some(Some(v)) => kept.push(v),
                    Some(None) => items = None,
                    None => break,
                },
                None => {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                }
            }
        }
        Ok(items.map(Value::Array))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Some(Map::new()).filter(|_| self.take());
        while let Some(key) = map.next_key::<String>()? {
            match &mut fields {
                Some(kept) if self.take() => {
                    match map.next_value_seed(Budgeted {
                        left: &mut *self.left,
                    })? {
                        Some(v) => {
                            kept.insert(key, v);
                        }
                        None => fields = None,
                    }
                }
                _ => {
                    fields = None;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields.map(Value::Object))
    }
}

/// The unknown fields of one object, within the budget.
#[derive(Default)]
struct Extra {
    kept: Map<String, Value>,
    values_left: usize,
    dropped: usize,
}

impl Extra {
    fn new() -> Self {
        Self {
            values_left: MAX_EXTRA_VALUES,
            ..Self::default()
        }
    }

    /// Reads the value of unknown field `key`: kept if it fits, else skipped and counted.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: String, map: &mut A) -> Result<(), A::Error> {
        if self.kept.len() >= MAX_EXTRA_FIELDS {
            map.next_value::<IgnoredAny>()?;
            self.dropped += 1;
            return Ok(());
        }
        let mut left = self.values_left;
        match map.next_value_seed(Budgeted { left: &mut left })? {
            Some(v) => {
                self.values_left = left;
                self.kept.insert(key, v);
            }
            // Too big for what is left: skipped; a smaller one after it may still fit.
            None => self.dropped += 1,
        }
        Ok(())
    }
}

/// Sets `slot` from the next value, once: a repeated field is an error, as serde's derive says.
fn once<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    slot: &mut Option<T>,
    name: &'static str,
    map: &mut A,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| de::Error::missing_field(name))
}

impl<'de> de::Deserialize<'de> for MessageBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageBatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Message Batch object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MessageBatch, A::Error> {
                let (mut id, mut kind, mut status, mut counts) = (None, None, None, None);
                let (mut created, mut expires) = (None, None);
                let (mut archived, mut cancel, mut ended, mut url) = (None, None, None, None);
                let mut extra = Extra::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "id" => once(&mut id, "id", &mut map)?,
                        "type" => once(&mut kind, "type", &mut map)?,
                        "processing_status" => once(&mut status, "processing_status", &mut map)?,
                        "request_counts" => once(&mut counts, "request_counts", &mut map)?,
                        "created_at" => once(&mut created, "created_at", &mut map)?,
                        "expires_at" => once(&mut expires, "expires_at", &mut map)?,
                        "archived_at" => once(&mut archived, "archived_at", &mut map)?,
                        "cancel_initiated_at" => {
                            once(&mut cancel, "cancel_initiated_at", &mut map)?;
                        }
                        "ended_at" => once(&mut ended, "ended_at", &mut map)?,
                        "results_url" => once(&mut url, "results_url", &mut map)?,
                        _ => extra.read(key, &mut map)?,
                    }
                }
                Ok(MessageBatch {
                    id: required(id, "id")?,
                    kind: required(kind, "type")?,
                    processing_status: required(status, "processing_status")?,
                    request_counts: required(counts, "request_counts")?,
                    created_at: required(created, "created_at")?,
                    expires_at: required(expires, "expires_at")?,
                    archived_at: archived.flatten(),
                    cancel_initiated_at: cancel.flatten(),
                    ended_at: ended.flatten(),
                    results_url: url.flatten(),
                    extra: extra.kept,
                    extra_dropped: extra.dropped,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A page's `data`: at most [`MAX_PAGE_ITEMS`] batches kept, the rest skipped and counted.
struct Items {
    kept: Vec<MessageBatch>,
    dropped: usize,
}

impl<'de> de::Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of Message Batch objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut items = Items {
                    kept: Vec::new(),
                    dropped: 0,
                };
                while items.kept.len() < MAX_PAGE_ITEMS {
                    match seq.next_element()? {
                        Some(b) => items.kept.push(b),
                        None => return Ok(items),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    items.dropped += 1;
                }
                Ok(items)
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> de::Deserialize<'de> for BatchPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BatchPage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a page of Message Batches")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchPage, A::Error> {
                let (mut data, mut has_more, mut first, mut last) = (None, None, None, None);
                let mut extra = Extra::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "data" => once(&mut data, "data", &mut map)?,
                        "has_more" => once(&mut has_more, "has_more", &mut map)?,
                        "first_id" => once(&mut first, "first_id", &mut map)?,
                        "last_id" => once(&mut last, "last_id", &mut map)?,
                        _ => extra.read(key, &mut map)?,
                    }
                }
                let data: Items = required(data, "data")?;
                Ok(BatchPage {
                    data: data.kept,
                    has_more: required(has_more, "has_more")?,
                    first_id: first.flatten(),
                    last_id: last.flatten(),
                    extra: extra.kept,
                    items_dropped: data.dropped,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(extra: impl IntoIterator<Item = (String, Value)>) -> Value {
        let mut b = json!({
            "id": "msgbatch_01", "type": "message_batch", "processing_status": "ended",
            "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0,
                               "expired": 0},
            "created_at": "t", "expires_at": "t", "archived_at": null,
            "cancel_initiated_at": null, "ended_at": "t", "results_url": null,
        });
        for (k, v) in extra {
            b[k] = v;
        }
        b
    }

    #[test]
    fn known_fields_decode_as_the_derive_did() {
        let b: MessageBatch =
            serde_json::from_value(batch([("new_field".to_owned(), json!({"a": [1, 2]}))]))
                .unwrap();
        assert_eq!(b.id, "msgbatch_01");
        assert_eq!(b.request_counts.succeeded, 1);
        assert_eq!(b.extra["new_field"], json!({"a": [1, 2]}));
        assert_eq!(b.extra_dropped, 0);
        // Missing optional fields are null; missing required ones are errors.
        let mut v = batch([]);
        v.as_object_mut().unwrap().remove("results_url");
        assert!(serde_json::from_value::<MessageBatch>(v.clone()).is_ok());
        v.as_object_mut().unwrap().remove("id");
        let err = serde_json::from_value::<MessageBatch>(v).unwrap_err();
        assert!(err.to_string().contains("missing field `id`"), "{err}");
        // The serialized form is the API's: unknown fields side by side with the known ones.
        let round = serde_json::to_value(
            serde_json::from_value::<MessageBatch>(batch([("x".to_owned(), json!(1))])).unwrap(),
        )
        .unwrap();
        assert_eq!(round, batch([("x".to_owned(), json!(1))]));
    }

    #[test]
    fn unknown_fields_are_kept_within_the_budget_and_the_rest_counted() {
        let many = (0..400_000).map(|i| (format!("f{i}"), json!(i)));
        let b: MessageBatch = serde_json::from_value(batch(many)).unwrap();
        assert_eq!(b.extra.len(), MAX_EXTRA_FIELDS);
        assert_eq!(b.extra_dropped, 400_000 - MAX_EXTRA_FIELDS);
        // One huge unknown value is skipped, and a small one after it still kept.
        let huge: Vec<u32> = (0..100_000).collect();
        let text = batch([]).to_string();
        let text = format!(
            r#"{}, "big": {}, "small": {{"k": true}}}}"#,
            text.trim_end_matches('}'),
            serde_json::to_string(&huge).unwrap()
        );
        let b: MessageBatch = serde_json::from_str(&text).unwrap();
        assert!(!b.extra.contains_key("big"));
        assert_eq!(b.extra["small"], json!({"k": true}));
        assert_eq!(b.extra_dropped, 1);
    }

    #[test]
    fn a_page_keeps_at_most_the_apis_largest_limit() {
        let data: Vec<Value> = (0..MAX_PAGE_ITEMS + 5).map(|_| batch([])).collect();
        let page: BatchPage = serde_json::from_value(json!({
            "data": data, "has_more": false, "first_id": "a", "last_id": "b"
        }))
        .unwrap();
        assert_eq!(page.data.len(), MAX_PAGE_ITEMS);
        assert_eq!(page.items_dropped, 5);
        assert_eq!(page.first_id.as_deref(), Some("a"));
    }
}
