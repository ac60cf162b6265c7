//! Checking the body of `POST /messages/batches` the way the real API does, enough that a
//! client's mistakes surface here rather than only against the real service.
//!
//! The rules are the spec's (`CreateMessageBatchRequest`: at least one request, each with a
//! `custom_id` and `params` holding `model`, `max_tokens >= 1` and a non-empty `messages`) plus
//! the real API's documented ones the spec omits: at most 100,000 requests a batch (the spec says
//! 10,000; the docs say 100,000), a `custom_id` is 1..=64 of `A-Z a-z 0-9 _ -` and unique within
//! the batch. Message content may be a string or a list of blocks, as in the Messages API. Other
//! `params` (system, temperature, ...) are accepted and ignored, and so is the content itself.
//!
//! The body is checked as it is parsed, never turned into a whole `serde_json::Value`: a 32 MiB
//! body of `{"requests":[0,0,…]}` used to become half a gigabyte of values before anything was
//! counted. Here the first bad item stops the parse, the request count is checked item by item,
//! ignored parts are skipped without being stored, and only what the simulator keeps (custom
//! IDs, models: interned, so a batch naming one model holds it once) is ever allocated. A model
//! name longer than [`MAX_MODEL`] is refused rather than stored.
//!
//! Messages name the offending field by its path (`requests.3.params.max_tokens: ...`), in the
//! style of the real API's validation errors; the first problem found is reported.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::store::RequestMeta;

/// Longest `custom_id`.
const MAX_CUSTOM_ID: usize = 64;
/// Longest model name kept. Real model names are a few dozen characters; this only stops a
/// client from parking megabytes in the simulator under one request.
pub(crate) const MAX_MODEL: usize = 256;
/// Bytes one request's metadata takes besides its `custom_id` (the struct and allocator slack).
const REQUEST_OVERHEAD: usize = std::mem::size_of::<RequestMeta>() + 16;

/// The requests of a valid create body.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub requests: Vec<RequestMeta>,
    /// Bytes the simulator will hold for them (for `SimLimits::max_stored_bytes`).
    pub bytes: usize,
}

/// The requests of a valid create body of at most `max_requests` requests, or the message
/// saying what is wrong with it.
pub(crate) fn create_body(body: &[u8], max_requests: usize) -> Result<Parsed, String> {
    let problem = Problem::default();
    let mut state = State {
        problem: &problem,
        max_requests,
        requests: Vec::new(),
        seen: HashSet::new(),
        models: HashSet::new(),
        bytes: 0,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Root(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        return Err(problem
            .take()
            .unwrap_or_else(|| format!("The request body is not valid JSON: {e}.")));
    }
    let State {
        requests,
        models,
        bytes,
        ..
    } = state;
    let model_bytes: usize = models.iter().map(|m| m.len() + 16).sum();
    Ok(Parsed {
        requests,
        bytes: bytes.saturating_add(model_bytes),
    })
}

/// The first problem found, in the API's words. Serde errors carry no room for it (a custom
/// error gets serde_json's position appended), so it is kept here and the error only stops the
/// parse.
#[derive(Default)]
struct Problem(RefCell<Option<String>>);

impl Problem {
    fn take(&self) -> Option<String> {
        self.0.borrow_mut().take()
    }

    /// Records `message` (unless an earlier problem was) and returns the error that stops the
    /// parse.
    fn raise<E: de::Error>(&self, message: String) -> E {
        let mut slot = self.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(message);
        }
        E::custom("invalid create body")
    }
}

struct State<'p> {
    problem: &'p Problem,
    max_requests: usize,
    requests: Vec<RequestMeta>,
    seen: HashSet<Box<str>>,
    models: HashSet<Arc<str>>,
    bytes: usize,
}

/// Refuses every JSON type but the ones a visitor implements, with "`at`: Input should be a
/// valid `what`." (`at` empty at the root).
macro_rules! refuse_other_types {
    ($($generic:ident : $access:ident),*) => {
        refuse_other_types!(@scalar visit_bool: bool, visit_i64: i64, visit_u64: u64,
            visit_f64: f64, visit_str: &str);
        $(fn $generic<A: $access<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(self.refuse())
        })*
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
    };
    (@scalar $($method:ident : $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Err(self.refuse())
        })*
    };
}

/// The message for a value of the wrong JSON type at `at`.
fn wrong_type(at: &str, what: &str) -> String {
    if at.is_empty() {
        format!("The request body must be {what}.")
    } else {
        format!("{at}: Input should be {what}.")
    }
}

/// "`at.name`: Field required."
fn required(at: &str, name: &str) -> String {
    if at.is_empty() {
        format!("{name}: Field required.")
    } else {
        format!("{at}.{name}: Field required.")
    }
}

/// A map key, compared without allocating.
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    /// Index in the wanted names, or `None` for a key to skip.
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

// --- the root object --------------------------------------------------------------------------

struct Root<'s, 'p>(&'s mut State<'p>);

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Root<'_, '_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.0
            .problem
            .raise(wrong_type("", "a JSON object with a `requests` list"))
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    refuse_other_types!(visit_seq: SeqAccess);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key_seed(Key(&["requests"]))? {
            match key {
                Some(_) => {
                    if found {
                        return Err(self
                            .0
                            .problem
                            .raise("requests: given more than once.".into()));
                    }
                    found = true;
                    map.next_value_seed(Requests(&mut *self.0))?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !found {
            return Err(self.0.problem.raise(required("", "requests")));
        }
        Ok(())
    }
}

// --- requests: [...] --------------------------------------------------------------------------

struct Requests<'s, 'p>(&'s mut State<'p>);

impl<'de> DeserializeSeed<'de> for Requests<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Requests<'_, '_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.0.problem.raise(wrong_type("requests", "a valid list"))
    }
}

impl<'de> Visitor<'de> for Requests<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of requests")
    }

    refuse_other_types!(visit_map: MapAccess);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        let mut index = 0usize;
        loop {
            if index == state.max_requests {
                // One more would be too many: look for it without parsing the rest.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(state.problem.raise(format!(
                        "requests: List should have at most {} items after validation.",
                        state.max_requests
                    )));
                }
                break;
            }
            let Some(request) = seq.next_element_seed(Request {
                index,
                problem: state.problem,
            })?
            else {
                break;
            };
            if !state.seen.insert(request.custom_id.clone()) {
                return Err(state.problem.raise(format!(
                    "requests.{index}.custom_id: '{}' is used by an earlier request; each \
                     custom_id must be unique within a batch.",
                    request.custom_id
                )));
            }
            let model = match state.models.get(request.model.as_str()) {
                Some(model) => Arc::clone(model),
                None => {
                    let model: Arc<str> = Arc::from(request.model);
                    state.models.insert(Arc::clone(&model));
                    model
                }
            };
            // The custom ID is held twice while parsing (here and in `seen`), once after.
            state.bytes = state
                .bytes
                .saturating_add(REQUEST_OVERHEAD + request.custom_id.len());
            state.requests.push(RequestMeta {
                custom_id: request.custom_id,
                model,
                max_tokens: request.max_tokens,
            });
            index += 1;
        }
        if index == 0 {
            return Err(state.problem.raise(
                "requests: List should have at least 1 item after validation, not 0.".into(),
            ));
        }
        Ok(())
    }
}

// --- one request ------------------------------------------------------------------------------

/// A request as parsed, before its model is interned.
struct RequestItem {
    custom_id: Box<str>,
    model: String,
    max_tokens: u64,
}

struct Request<'p> {
    index: usize,
    problem: &'p Problem,
}

impl<'de> DeserializeSeed<'de> for Request<'_> {
    type Value = RequestItem;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RequestItem, D::Error> {
        d.deserialize_any(self)
    }
}

impl Request<'_> {
    fn at(&self) -> String {
        format!("requests.{}", self.index)
    }

    fn refuse<E: de::Error>(&self) -> E {
        self.problem.raise(wrong_type(&self.at(), "a valid object"))
    }
}

impl<'de> Visitor<'de> for Request<'_> {
    type Value = RequestItem;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request object")
    }

    refuse_other_types!(visit_seq: SeqAccess);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestItem, A::Error> {
        let at = self.at();
        let mut custom_id = None;
        let mut params = None;
        while let Some(key) = map.next_key_seed(Key(&["custom_id", "params"]))? {
            match key {
                Some(0) => {
                    let value = map.next_value_seed(LeafSeed {
                        keep: MAX_CUSTOM_ID,
                    })?;
                    custom_id = Some(value);
                }
                Some(_) => {
                    params = Some(map.next_value_seed(Params {
                        at: format!("{at}.params"),
                        problem: self.problem,
                    })?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let custom_id = match custom_id {
            None => return Err(self.problem.raise(required(&at, "custom_id"))),
            Some(Leaf::Str(id))
                if id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    && !id.is_empty() =>
            {
                id.into_boxed_str()
            }
            Some(Leaf::Str(_) | Leaf::TooLong) => {
                return Err(self.problem.raise(format!(
                    "{at}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                )));
            }
            Some(_) => {
                return Err(self
                    .problem
                    .raise(wrong_type(&format!("{at}.custom_id"), "a valid string")));
            }
        };
        let Some((model, max_tokens)) = params else {
            return Err(self.problem.raise(required(&at, "params")));
        };
        Ok(RequestItem {
            custom_id,
            model,
            max_tokens,
        })
    }
}

// --- params -----------------------------------------------------------------------------------

struct Params<'p> {
    at: String,
    problem: &'p Problem,
}

impl<'de> DeserializeSeed<'de> for Params<'_> {
    type Value = (String, u64);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Params<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.problem.raise(wrong_type(&self.at, "a valid object"))
    }
}

impl<'de> Visitor<'de> for Params<'_> {
    type Value = (String, u64);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request params")
    }

    refuse_other_types!(visit_seq: SeqAccess);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let at = &self.at;
        let mut model = None;
        let mut max_tokens = None;
        let mut messages = false;
        while let Some(key) = map.next_key_seed(Key(&["model", "max_tokens", "messages"]))? {
            match key {
                Some(0) => model = Some(map.next_value_seed(LeafSeed { keep: MAX_MODEL })?),
                Some(1) => max_tokens = Some(map.next_value_seed(LeafSeed { keep: 0 })?),
                Some(_) => {
                    map.next_value_seed(Messages {
                        at: format!("{at}.messages"),
                        problem: self.problem,
                    })?;
                    messages = true;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let model = match model {
            None => return Err(self.problem.raise(required(at, "model"))),
            Some(Leaf::Str(m)) if m.is_empty() => {
                return Err(self.problem.raise(format!(
                    "{at}.model: String should have at least 1 character."
                )));
            }
            Some(Leaf::Str(m)) => m,
            Some(Leaf::TooLong) => {
                return Err(self.problem.raise(format!(
                    "{at}.model: String should have at most {MAX_MODEL} characters."
                )));
            }
            Some(_) => {
                return Err(self
                    .problem
                    .raise(wrong_type(&format!("{at}.model"), "a valid string")));
            }
        };
        let max_tokens = match max_tokens {
            None => return Err(self.problem.raise(required(at, "max_tokens"))),
            Some(Leaf::Int(n)) if n >= 1 => n.unsigned_abs(),
            Some(Leaf::Int(_)) => {
                return Err(self.problem.raise(format!(
                    "{at}.max_tokens: Input should be greater than or equal to 1."
                )));
            }
            Some(_) => {
                return Err(self
                    .problem
                    .raise(format!("{at}.max_tokens: Input should be a valid integer.")));
            }
        };
        if !messages {
            return Err(self.problem.raise(required(at, "messages")));
        }
        Ok((model, max_tokens))
    }
}

// --- messages ---------------------------------------------------------------------------------

struct Messages<'p> {
    at: String,
    problem: &'p Problem,
}

impl<'de> DeserializeSeed<'de> for Messages<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Messages<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.problem.raise(wrong_type(&self.at, "a valid list"))
    }
}

impl<'de> Visitor<'de> for Messages<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of messages")
    }

    refuse_other_types!(visit_map: MapAccess);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while seq
            .next_element_seed(Message {
                at: format!("{}.{index}", self.at),
                problem: self.problem,
            })?
            .is_some()
        {
            index += 1;
        }
        if index == 0 {
            return Err(self.problem.raise(format!(
                "{}: List should have at least 1 item after validation, not 0.",
                self.at
            )));
        }
        Ok(())
    }
}

struct Message<'p> {
    at: String,
    problem: &'p Problem,
}

impl<'de> DeserializeSeed<'de> for Message<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Message<'_> {
    fn refuse<E: de::Error>(&self) -> E {
        self.problem.raise(wrong_type(&self.at, "a valid object"))
    }
}

impl<'de> Visitor<'de> for Message<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")
    }

    refuse_other_types!(visit_seq: SeqAccess);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = &self.at;
        let mut role = None;
        let mut content = None;
        while let Some(key) = map.next_key_seed(Key(&["role", "content"]))? {
            match key {
                Some(0) => role = Some(map.next_value_seed(LeafSeed { keep: 16 })?),
                Some(_) => content = Some(map.next_value_seed(LeafSeed { keep: 0 })?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match role {
            None => return Err(self.problem.raise(required(at, "role"))),
            Some(Leaf::Str(r)) if r == "user" || r == "assistant" => {}
            Some(_) => {
                return Err(self
                    .problem
                    .raise(format!("{at}.role: Input should be 'user' or 'assistant'.")));
            }
        }
        match content {
            None => Err(self.problem.raise(required(at, "content"))),
            Some(Leaf::Str(_) | Leaf::TooLong | Leaf::Array) => Ok(()),
            Some(_) => Err(self.problem.raise(format!(
                "{at}.content: Input should be a valid string or a list of content blocks."
            ))),
        }
    }
}

// --- leaves -----------------------------------------------------------------------------------

/// A value whose type is all that matters, and whose text is kept only when it is a string of
/// at most `keep` bytes. Arrays and objects are skipped without being stored.
#[derive(Debug)]
enum Leaf {
    Str(String),
    /// A string longer than `keep`, not kept.
    TooLong,
    Int(i64),
    Other,
    Array,
}

impl Leaf {
    fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Parses a [`Leaf`], keeping strings of at most `keep` bytes.
#[derive(Clone, Copy)]
struct LeafSeed {
    keep: usize,
}

impl<'de> DeserializeSeed<'de> for LeafSeed {
    type Value = Leaf;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Leaf, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LeafSeed {
    type Value = Leaf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Leaf, E> {
        Ok(if s.len() > self.keep {
            Leaf::TooLong
        } else {
            Leaf::Str(s.to_owned())
        })
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Leaf, E> {
        Ok(Leaf::Int(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Leaf, E> {
        Ok(i64::try_from(n).map_or(Leaf::Other, Leaf::Int))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Leaf, E> {
        Ok(Leaf::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Leaf, E> {
        Ok(Leaf::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Leaf, E> {
        Ok(Leaf::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Leaf, A::Error> {
        Leaf::skip_seq(seq)?;
        Ok(Leaf::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Leaf::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 100_000;

    fn err(body: &str) -> String {
        create_body(body.as_bytes(), MAX).unwrap_err()
    }

    const GOOD: &str = r#"{"requests":[{"custom_id":"a-1","params":{"model":"m","max_tokens":5,
        "messages":[{"role":"user","content":"hi"}]}}]}"#;

    fn item(custom_id: &str) -> String {
        format!(
            r#"{{"custom_id":"{custom_id}","params":{{"model":"m","max_tokens":1,"messages":[{{"role":"user","content":[{{"type":"text","text":"hi"}}]}}]}}}}"#
        )
    }

    #[test]
    fn accepts_a_valid_body() {
        let r = create_body(GOOD.as_bytes(), MAX).unwrap();
        assert_eq!(r.requests.len(), 1);
        let first = &r.requests[0];
        assert_eq!((&*first.custom_id, first.max_tokens), ("a-1", 5));
        assert_eq!(&*first.model, "m");
        assert!(r.bytes >= "a-1".len() + "m".len());
    }

    #[test]
    fn names_the_field_at_fault() {
        assert!(err("{").contains("not valid JSON"));
        assert!(err(&format!("{GOOD} trailing")).contains("not valid JSON"));
        assert!(err("[]").contains("JSON object"));
        assert_eq!(err("{}"), "requests: Field required.");
        assert!(err(r#"{"requests":[]}"#).contains("at least 1 item"));
        assert!(err(r#"{"requests":{}}"#).contains("requests: Input should be a valid list"));
        let second = r#"{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":1,
            "messages":[{"role":"user","content":"hi"}]}},{"custom_id":"b","params":{}}]}"#;
        assert_eq!(err(second), "requests.1.params.model: Field required.");
        let zero = GOOD.replace("\"max_tokens\":5", "\"max_tokens\":0");
        assert!(err(&zero).contains("requests.0.params.max_tokens: Input should be greater"));
        let text = GOOD.replace("\"max_tokens\":5", "\"max_tokens\":\"5\"");
        assert!(err(&text).contains("requests.0.params.max_tokens: Input should be a valid int"));
        let empty = GOOD.replace(r#"[{"role":"user","content":"hi"}]"#, "[]");
        assert!(err(&empty).contains("requests.0.params.messages: List should have at least 1"));
        let role = GOOD.replace(r#""role":"user""#, r#""role":"system""#);
        assert!(err(&role).contains("requests.0.params.messages.0.role: Input should be 'user'"));
        let content = GOOD.replace(r#""content":"hi""#, r#""content":7"#);
        assert!(err(&content).contains("requests.0.params.messages.0.content: Input should"));
        let bad_id = GOOD.replace("a-1", "a b");
        assert!(err(&bad_id).contains("requests.0.custom_id: String should match pattern"));
        let long_id = GOOD.replace("a-1", &"x".repeat(65));
        assert!(err(&long_id).contains("requests.0.custom_id: String should match pattern"));
        assert!(err(r#"{"requests":[0,0,0]}"#).contains("requests.0: Input should be a valid obj"));
    }

    #[test]
    fn refuses_duplicate_custom_ids() {
        let body = format!(r#"{{"requests":[{},{}]}}"#, item("x"), item("x"));
        assert!(err(&body).starts_with("requests.1.custom_id: 'x' is used by an earlier request"));
    }

    #[test]
    fn refuses_more_requests_than_the_limit_without_parsing_the_rest() {
        let items: Vec<String> = (0..4).map(|i| item(&format!("r{i}"))).collect();
        let four = format!(r#"{{"requests":[{}]}}"#, items.join(","));
        assert_eq!(create_body(four.as_bytes(), 4).unwrap().requests.len(), 4);
        let message = create_body(four.as_bytes(), 3).unwrap_err();
        assert!(message.contains("at most 3 items"), "{message}");
        // Whatever follows the item past the limit is not looked at.
        let five = format!(
            r#"{{"requests":[{},0,"not even checked""#,
            items[..3].join(",")
        );
        assert!(
            create_body(five.as_bytes(), 3)
                .unwrap_err()
                .contains("at most 3")
        );
    }

    #[test]
    fn refuses_a_huge_model_name_and_interns_models() {
        let huge = GOOD.replace(
            r#""model":"m""#,
            &format!(r#""model":"{}""#, "m".repeat(300)),
        );
        assert!(err(&huge).contains("requests.0.params.model: String should have at most 256"));
        let items: Vec<String> = (0..3).map(|i| item(&format!("r{i}"))).collect();
        let body = format!(r#"{{"requests":[{}]}}"#, items.join(","));
        let parsed = create_body(body.as_bytes(), MAX).unwrap();
        assert!(Arc::ptr_eq(
            &parsed.requests[0].model,
            &parsed.requests[2].model
        ));
    }
}
