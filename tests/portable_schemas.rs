//! Every tool's `inputSchema`, read from a live `tools/list`, is in the portable subset of JSON
//! Schema that every model provider accepts (Gemini refuses type arrays, combinators,
//! references and unknown formats, in some clients for the whole session); `null` for an
//! optional argument still means "not given"; output schemas stay valid JSON Schema 2020-12.
//!
//! The subset is written out here on its own, not taken from `src/server/schema.rs`, so that
//! this test judges the rewrite instead of repeating it.

mod common;

use std::time::Duration;

use common::{call, is_error, spawn, text};
use msgbatch_mcp::simulator::{self, SimConfig};
use serde_json::{Map, Value, json};

/// Keywords a portable schema may use.
const KEYWORDS: &[&str] = &[
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
const TYPES: &[&str] = &["string", "integer", "number", "boolean", "array", "object"];
/// The one string format Gemini accepts besides `enum`.
const FORMATS: &[&str] = &["date-time"];

/// Every way `node` (at `path` in `tool`'s input schema) leaves the portable subset.
fn violations(tool: &str, path: &str, node: &Value, out: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        out.push(format!(
            "{tool}: {path}: a schema must be an object, found {node}"
        ));
        return;
    };
    for key in map.keys() {
        if !KEYWORDS.contains(&key.as_str()) {
            out.push(format!(
                "{tool}: {path}: keyword `{key}` is outside the portable subset"
            ));
        }
    }
    if let Some(format) = map.get("format")
        && !format.as_str().is_some_and(|f| FORMATS.contains(&f))
    {
        out.push(format!("{tool}: {path}: non-standard format {format}"));
    }
    let kind = match map.get("type") {
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.as_str(),
        Some(other) => {
            out.push(format!(
                "{tool}: {path}: `type` must be one plain type, found {other}"
            ));
            return;
        }
        None => {
            out.push(format!("{tool}: {path}: no `type`"));
            return;
        }
    };
    if path == "inputSchema" && kind != "object" {
        out.push(format!("{tool}: {path}: the root must be type object"));
    }
    if let Some(d) = map.get("description")
        && !d.is_string()
    {
        out.push(format!("{tool}: {path}: description is not a string"));
    }
    for bound in ["minimum", "maximum", "minItems", "maxItems"] {
        if let Some(b) = map.get(bound)
            && !b.is_number()
        {
            out.push(format!("{tool}: {path}: {bound} is not a number"));
        }
    }
    if let Some(values) = map.get("enum")
        && values.as_array().is_none_or(|v| v.is_empty())
    {
        out.push(format!("{tool}: {path}: enum must be a non-empty array"));
    }
    match kind {
        "object" => {
            let props = map.get("properties").and_then(Value::as_object);
            let empty = Map::new();
            let props = props.unwrap_or(&empty);
            for (name, sub) in props {
                violations(tool, &format!("{path}.properties.{name}"), sub, out);
            }
            if let Some(required) = map.get("required") {
                for r in required.as_array().into_iter().flatten() {
                    if !r.as_str().is_some_and(|r| props.contains_key(r)) {
                        out.push(format!(
                            "{tool}: {path}: required names {r}, which is not a property"
                        ));
                    }
                }
            }
        }
        "array" => match map.get("items") {
            Some(items) => violations(tool, &format!("{path}.items"), items, out),
            None => out.push(format!("{tool}: {path}: an array needs `items`")),
        },
        _ => {}
    }
}

async fn live_tools() -> Vec<rmcp::model::Tool> {
    // A closed port: listing tools sends nothing upstream.
    let (client, _) = spawn("http://127.0.0.1:9/v1", &[]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.ok();
    tools
}

#[tokio::test]
async fn every_input_schema_is_in_the_portable_subset() {
    let tools = live_tools().await;
    assert!(
        tools.len() >= 4,
        "{:?}",
        tools.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    let mut found = Vec::new();
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        violations(&tool.name, "inputSchema", &schema, &mut found);
    }
    assert!(
        found.is_empty(),
        "outside the portable subset:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_names_tool_and_path() {
    // The shape schemars gives `Option<u32>`, which this test exists to keep out.
    let old = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "wait_seconds": {"type": ["integer", "null"], "format": "uint32", "default": null},
            "ids": {"type": "array"},
            "x": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}
        },
        "$defs": {"X": {"type": "string"}}
    });
    let mut found = Vec::new();
    violations("t", "inputSchema", &old, &mut found);
    let all = found.join("\n");
    for expected in [
        "t: inputSchema: keyword `$schema`",
        "t: inputSchema: keyword `$defs`",
        "t: inputSchema.properties.wait_seconds: keyword `default`",
        "t: inputSchema.properties.wait_seconds: `type` must be one plain type",
        "t: inputSchema.properties.wait_seconds: non-standard format \"uint32\"",
        "t: inputSchema.properties.ids: an array needs `items`",
        "t: inputSchema.properties.x: keyword `anyOf`",
        "t: inputSchema.properties.x: no `type`",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[tokio::test]
async fn every_input_schema_keeps_descriptions_and_bounds() {
    let tools = live_tools().await;
    let find = |name: &str| {
        let tool = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} is served"));
        Value::Object((*tool.input_schema).clone())
    };
    let cancel = find("cancel_message_batch");
    assert_eq!(
        cancel["properties"]["wait_seconds"],
        json!({"type": "integer", "minimum": 0, "maximum": 600,
               "description": cancel["properties"]["wait_seconds"]["description"]})
    );
    assert_eq!(cancel["required"], json!(["message_batch_id"]));
    let list = find("list_message_batches");
    assert_eq!(list["properties"]["limit"]["minimum"], 1);
    assert_eq!(list["properties"]["limit"]["maximum"], 1000);
    assert_eq!(list["properties"]["after_id"]["type"], "string");
    assert!(
        list.get("required").is_none_or(|r| r == &json!([])),
        "{list}"
    );
    let bulk = find("cancel_message_batches");
    let ids = &bulk["properties"]["message_batch_ids"];
    assert_eq!(ids["type"], "array");
    assert_eq!(ids["items"]["type"], "string");
    assert_eq!(ids["minItems"], 1);
    assert_eq!(ids["maxItems"], 100);
    assert!(ids["description"].is_string());
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
            assert!(
                prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{}: {name} has no description",
                tool.name
            );
        }
    }
}

/// Output schemas are for clients, not models: full JSON Schema 2020-12, and valid.
#[tokio::test]
async fn every_output_schema_is_valid_json_schema_2020_12() {
    for tool in live_tools().await {
        let schema = Value::Object(
            (*tool
                .output_schema
                .clone()
                .unwrap_or_else(|| panic!("{} declares no outputSchema", tool.name)))
            .clone(),
        );
        if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
            panic!(
                "{}: outputSchema is not valid 2020-12: {e}\n{schema}",
                tool.name
            );
        }
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{}: outputSchema does not compile: {e}", tool.name));
        // Only formats JSON Schema defines: clients' validators warn about others (Claude Code
        // printed "unknown format "uint64" ignored" under `claude mcp list`).
        let mut formats = Vec::new();
        collect_formats(&schema, &mut formats);
        let unknown: Vec<_> = formats
            .iter()
            .filter(|f| !["date-time", "date", "time", "uri", "uuid"].contains(&f.as_str()))
            .collect();
        assert!(unknown.is_empty(), "{}: formats {unknown:?}", tool.name);
    }
}

/// Every `format` keyword (a string value) in `schema`.
fn collect_formats(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(f)) = map.get("format") {
                out.push(f.clone());
            }
            map.values().for_each(|v| collect_formats(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_formats(v, out)),
        _ => {}
    }
}

/// A value for a required argument, from its schema: the batch ID for a string, a list of it
/// for an array.
fn required_value(prop: &Value, id: &str) -> Value {
    match prop["type"].as_str() {
        Some("array") => json!([id]),
        Some("integer") => prop.get("minimum").cloned().unwrap_or(json!(1)),
        _ => json!(id),
    }
}

#[tokio::test]
async fn null_for_each_optional_argument_means_not_given() {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_millis(1_000),
            cancel_delay: Duration::from_millis(60_000),
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator");
    let batch = sim.simulator().insert_batch(10);
    // Results exist only for an ended batch: that tool is asked about one.
    let ended = sim.simulator().insert_ended_batch(10);
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut tried = 0;
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let base: Map<String, Value> = required
            .iter()
            .map(|r| {
                let id = if tool.name == "get_message_batch_results" {
                    &ended.id
                } else {
                    &batch.id
                };
                ((*r).to_owned(), required_value(&props[*r], id))
            })
            .collect();
        let optional: Vec<&String> = props
            .keys()
            .filter(|k| !required.contains(&k.as_str()))
            .collect();
        // Each optional argument null on its own, then all of them at once.
        let mut cases: Vec<Vec<&String>> = optional.iter().map(|k| vec![*k]).collect();
        if optional.len() > 1 {
            cases.push(optional.clone());
        }
        for nulls in cases {
            let mut args = base.clone();
            for k in &nulls {
                args.insert((*k).clone(), Value::Null);
            }
            let r = call(&client, &tool.name, Value::Object(args.clone())).await;
            assert!(
                !is_error(&r),
                "{} with {} answered an error: {}",
                tool.name,
                Value::Object(args),
                text(&r)
            );
            tried += 1;
        }
    }
    // wait_seconds twice, limit/before_id/after_id and all three.
    assert!(tried >= 6, "only {tried} calls with null arguments");
    client.cancel().await.ok();
}
