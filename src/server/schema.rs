//! Tool input schemas in the portable subset of JSON Schema that every model provider accepts.
//!
//! Clients hand a tool's `inputSchema` to whatever model the person chose. Gemini's function
//! declarations take a subset of JSON Schema and refuse the rest with HTTP 400, in some clients
//! for every request of the session: a `type` array (`["integer", "null"]`), `anyOf`/`oneOf`/
//! `allOf`, `$ref`/`$defs`, and formats other than `date-time` for strings ("only 'enum' and
//! 'date-time' are supported for STRING type"). schemars renders `Option<T>` as exactly such a
//! null union with `default: null`, and `u32` with `format: "uint32"`.
//!
//! This file is the one place that decides: [`portable_tools`] rewrites the input schema of
//! every tool of a router, whatever its parameter type, with the [`Portable`] transform, so a
//! new tool cannot slip back. "Optional" is said the portable way, by leaving the property out
//! of `required`; input handling stays lenient (`null` still means "not given", see
//! [`super::params`]). Output schemas are left alone: they are for clients, not models, and stay
//! full JSON Schema 2020-12.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::JsonObject;
use schemars::Schema;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::{Map, Value};

/// The keywords kept in a portable schema: what Gemini, OpenAI and Anthropic all read.
pub const KEYWORDS: &[&str] = &[
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "format",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
];

/// The plain types a property may have (one of them, never an array of them).
pub const TYPES: &[&str] = &["string", "integer", "number", "boolean", "array", "object"];

/// Formats kept: the one standard format Gemini accepts for strings.
pub const FORMATS: &[&str] = &["date-time"];

/// Rewrites the `inputSchema` of every tool in `router` into the portable subset, and drops
/// the formats JSON Schema does not define from every `outputSchema` (see [`standard_formats`]).
pub fn portable_tools<S>(mut router: ToolRouter<S>) -> ToolRouter<S> {
    for route in router.map.values_mut() {
        route.attr.input_schema = Arc::new(portable(&route.attr.input_schema));
        if let Some(output) = &route.attr.output_schema {
            route.attr.output_schema = Some(Arc::new(standard_formats(output)));
        }
    }
    router
}

/// The formats JSON Schema 2020-12 defines.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// `schema` with every `format` that JSON Schema does not define removed (schemars writes
/// `uint64` for a `u64`, with `minimum: 0` beside it, which says the same). Validators warn
/// about each unknown one: Claude Code printed "unknown format "uint64" ignored" ten times under
/// `claude mcp list`. Walked with schemars, like [`Portable`]: only subschemas are visited, so a
/// property named `format`, or a `format` inside a `default` or an `enum` value, is left alone.
fn standard_formats(schema: &JsonObject) -> JsonObject {
    let mut schema = Schema::try_from(Value::Object(schema.clone())).unwrap_or_default();
    StandardFormats.transform(&mut schema);
    match schema.to_value() {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// The transform behind [`standard_formats`].
struct StandardFormats;

impl Transform for StandardFormats {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(map) = schema.as_object_mut()
            && map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f))
        {
            map.remove("format");
        }
        transform_subschemas(self, schema);
    }
}

/// One input schema in the portable subset: local references inlined, then [`Portable`]
/// applied to every node.
pub fn portable(schema: &JsonObject) -> JsonObject {
    let mut root = schema.clone();
    let defs = match root.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let mut value = Value::Object(root);
    inline_refs(&mut value, &defs, 0);
    let mut schema = Schema::try_from(value).unwrap_or_default();
    Portable.transform(&mut schema);
    match schema.to_value() {
        Value::Object(map) => map,
        // Only a boolean schema, which no tool input is (rmcp requires an object root).
        _ => JsonObject::new(),
    }
}

/// Deepest chain of references inlined; a recursive type stops there, with its `$ref` left in
/// place for the schema test to point at.
const MAX_REF_DEPTH: usize = 8;

/// Replaces each `{"$ref": "#/$defs/Name", ...}` with the definition, the node's own keywords
/// (its description, say) winning over the definition's.
fn inline_refs(value: &mut Value, defs: &Map<String, Value>, depth: usize) {
    match value {
        Value::Object(map) => {
            if depth < MAX_REF_DEPTH
                && let Some(Value::String(r)) = map.get("$ref")
                && let Some(Value::Object(def)) =
                    r.strip_prefix("#/$defs/").and_then(|n| defs.get(n))
            {
                let mut merged = def.clone();
                map.remove("$ref");
                for (k, v) in std::mem::take(map) {
                    merged.insert(k, v);
                }
                *map = merged;
                let mut inlined = Value::Object(std::mem::take(map));
                inline_refs(&mut inlined, defs, depth + 1);
                if let Value::Object(m) = inlined {
                    *map = m;
                }
                return;
            }
            for v in map.values_mut() {
                inline_refs(v, defs, depth);
            }
        }
        Value::Array(items) => {
            for v in items {
                inline_refs(v, defs, depth);
            }
        }
        _ => {}
    }
}

/// The schemars transform that makes one schema portable, node by node:
/// - a null union (`type: [T, "null"]`, or `anyOf`/`oneOf` with a `{"type": "null"}` member) is
///   the other member alone: optional is said by `required`;
/// - a `oneOf`/`anyOf` of constants (a documented Rust enum) is an `enum`, and `const` too;
/// - formats other than [`FORMATS`] are dropped (`uint32`: `minimum` says it already);
/// - every keyword outside [`KEYWORDS`] is dropped (`$schema`, `title`, `default`,
///   `additionalProperties`, ...), except a combinator or `$ref` that could not be rewritten,
///   which stays so that the schema test names it rather than the model provider refusing it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

impl Transform for Portable {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(map) = schema.as_object_mut() {
            rewrite(map);
        }
        transform_subschemas(self, schema);
    }
}

fn rewrite(map: &mut Map<String, Value>) {
    for combinator in ["anyOf", "oneOf"] {
        let Some(Value::Array(members)) = map.get(combinator) else {
            continue;
        };
        let members: Vec<&Value> = members
            .iter()
            .filter(|m| m.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if let [only] = members[..]
            && let Some(only) = only.as_object().cloned()
        {
            map.remove(combinator);
            for (k, v) in only {
                map.entry(k).or_insert(v);
            }
        } else if !members.is_empty()
            && let Some(values) = members
                .iter()
                .map(|m| m.get("const").cloned())
                .collect::<Option<Vec<_>>>()
        {
            let kind = members.iter().find_map(|m| m.get("type").cloned());
            map.remove(combinator);
            map.insert("enum".to_owned(), Value::Array(values));
            if let Some(kind) = kind {
                map.entry("type").or_insert(kind);
            }
        }
    }
    // `type: ["integer", "null"]` -> `type: "integer"`.
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let t = types.remove(0);
            map.insert("type".to_owned(), t);
        }
    }
    if let Some(c) = map.remove("const") {
        map.insert("enum".to_owned(), Value::Array(vec![c]));
    }
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !FORMATS.contains(&f))
    {
        map.remove("format");
    }
    map.retain(|k, _| {
        KEYWORDS.contains(&k.as_str()) || matches!(k.as_str(), "anyOf" | "oneOf" | "allOf" | "$ref")
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_schemas_keep_only_formats_json_schema_defines() {
        let schema = obj(json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "format": "uint64", "minimum": 0},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "format": {"type": "string", "format": "uri"},
                "list": {"type": "array", "items": {"type": "integer", "format": "int32"}},
                "d": {"type": "object", "default": {"format": "kept: a value, not a schema"}}
            },
            "$defs": {"C": {"type": "integer", "format": "uint64", "minimum": 0}}
        }));
        assert_eq!(
            Value::Object(standard_formats(&schema)),
            json!({
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "minimum": 0},
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "format": {"type": "string", "format": "uri"},
                    "list": {"type": "array", "items": {"type": "integer"}},
                    "d": {"type": "object", "default": {"format": "kept: a value, not a schema"}}
                },
                "$defs": {"C": {"type": "integer", "minimum": 0}}
            })
        );
    }

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn option_u32_becomes_one_plain_type() {
        let s = portable(&obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "wait_seconds": {"type": ["integer", "null"], "format": "uint32",
                                 "default": null, "minimum": 0, "maximum": 600,
                                 "description": "Seconds."}
            },
            "required": []
        })));
        assert_eq!(
            Value::Object(s),
            json!({
                "type": "object",
                "properties": {
                    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 600,
                                     "description": "Seconds."}
                },
                "required": []
            })
        );
    }

    #[test]
    fn refs_are_inlined_and_nullable_structs_unwrapped() {
        let s = portable(&obj(json!({
            "type": "object",
            "properties": {
                "when": {"anyOf": [{"$ref": "#/$defs/When"}, {"type": "null"}],
                         "description": "Outer."},
                "mode": {"oneOf": [{"type": "string", "const": "a", "description": "A"},
                                   {"type": "string", "const": "b"}]},
                "at": {"type": "string", "format": "date-time"},
                "ids": {"type": "array", "items": {"type": "string", "format": "uuid"},
                        "minItems": 1, "maxItems": 3}
            },
            "$defs": {"When": {"type": "object", "title": "When", "description": "Inner.",
                               "properties": {"n": {"type": "integer", "format": "int64"}},
                               "additionalProperties": false}}
        })));
        assert_eq!(
            Value::Object(s),
            json!({
                "type": "object",
                "properties": {
                    "when": {"type": "object", "description": "Outer.",
                             "properties": {"n": {"type": "integer"}}},
                    "mode": {"type": "string", "enum": ["a", "b"]},
                    "at": {"type": "string", "format": "date-time"},
                    "ids": {"type": "array", "items": {"type": "string"},
                            "minItems": 1, "maxItems": 3}
                }
            })
        );
    }

    #[test]
    fn what_cannot_be_rewritten_is_left_for_the_test_to_name() {
        let s = portable(&obj(json!({
            "type": "object",
            "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}
        })));
        assert!(s["properties"]["x"]["anyOf"].is_array());
    }
}
