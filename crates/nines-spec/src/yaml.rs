//! YAML reading: documents as `yaml_serde::Value`s, each with an index from field path to the
//! line and column where that field is written, so that any later check can say where.
//!
//! Parsing goes through saphyr-parser's events rather than yaml_serde's loader so that values
//! and positions come from one parser and cannot disagree. A file whose top level is a sequence
//! of mappings that each carry `apiVersion` or `kind` (the layout of OpenSLO's examples) is read
//! as one document per item.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use yaml_serde::{Mapping, Number, Value};

/// Where a node is written: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Field path (`spec.objectives[0].target`) to where it is written.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    positions: HashMap<String, Position>,
}

impl LineIndex {
    /// The position of `path`, or of its nearest written ancestor.
    pub fn locate(&self, path: &str) -> Position {
        let mut path = path;
        loop {
            if let Some(position) = self.positions.get(path) {
                return *position;
            }
            if path.is_empty() {
                return Position::default();
            }
            path = parent_path(path);
        }
    }

    pub fn get(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> ``.
pub fn parent_path(path: &str) -> &str {
    if path.ends_with(']')
        && let Some(open) = path.rfind('[')
    {
        return &path[..open];
    }
    match path.rfind(['.', '[']) {
        Some(cut) => &path[..cut],
        None => "",
    }
}

/// Joins a path and a map key.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// Joins a path and a sequence index.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// One YAML document.
#[derive(Debug, Clone)]
pub struct YamlDocument {
    pub value: Value,
    pub index: LineIndex,
    /// Where the document starts.
    pub position: Position,
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

fn position(span: &Span) -> Position {
    Position { line: span.start.line(), column: span.start.col() + 1 }
}

enum Frame {
    Sequence { items: Vec<Value>, path: String },
    Mapping { map: Mapping, path: String, pending_key: Option<(String, Value)> },
}

/// Resolves a plain scalar the way YAML 1.2's core schema does.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Number(Number::from(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(Number::from(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(Number::from(f64::NAN)),
        _ => {}
    }
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric {
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        if let Ok(integer) = unsigned.parse::<i64>() {
            return Value::Number(Number::from(integer));
        }
        if let Ok(integer) = unsigned.parse::<u64>() {
            return Value::Number(Number::from(integer));
        }
        if let Some(hex) = unsigned.strip_prefix("0x")
            && let Ok(integer) = i64::from_str_radix(hex, 16)
        {
            return Value::Number(Number::from(integer));
        }
        if let Some(octal) = unsigned.strip_prefix("0o")
            && let Ok(integer) = i64::from_str_radix(octal, 8)
        {
            return Value::Number(Number::from(integer));
        }
        let float_like = unsigned.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && unsigned.chars().any(|c| c.is_ascii_digit());
        if float_like && let Ok(float) = unsigned.parse::<f64>() {
            return Value::Number(Number::from(float));
        }
    }
    Value::String(text.to_string())
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        _ => "<complex key>".to_string(),
    }
}

/// Reads every document of `text`.
pub fn parse_documents(text: &str) -> Result<Vec<YamlDocument>, SyntaxError> {
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut anchor_stack: Vec<usize> = Vec::new();
    let mut index = LineIndex::default();
    let mut document_position = Position::default();
    let mut root: Option<Value> = None;

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| SyntaxError {
            position: Position { line: err.marker().line(), column: err.marker().col() + 1 },
            message: err.info().to_string(),
        })?;
        // The path of the node this event starts, and whether it is a mapping key.
        let (node_path, is_key) = match stack.last() {
            None => (String::new(), false),
            Some(Frame::Sequence { items, path }) => (join_index(path, items.len()), false),
            Some(Frame::Mapping { path, pending_key, .. }) => match pending_key {
                None => (path.clone(), true),
                Some((key, _)) => (join_key(path, key), false),
            },
        };
        let completed: Option<(Value, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                index = LineIndex::default();
                document_position = position(&span);
                root = None;
                None
            }
            Event::DocumentEnd => {
                let value = root.take().unwrap_or(Value::Null);
                documents.push(YamlDocument {
                    value,
                    index: std::mem::take(&mut index),
                    position: document_position,
                });
                None
            }
            Event::Alias(anchor) => {
                let value = anchors.get(&anchor).cloned().ok_or_else(|| SyntaxError {
                    position: position(&span),
                    message: "alias to an unknown anchor".to_string(),
                })?;
                Some((value, 0))
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let value = match style {
                    ScalarStyle::Plain => resolve_plain(&text),
                    _ => Value::String(text.into_owned()),
                };
                Some((value, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if !is_key {
                    index.positions.entry(node_path.clone()).or_insert(position(&span));
                }
                anchor_stack.push(anchor);
                stack.push(Frame::Sequence { items: Vec::new(), path: node_path.clone() });
                None
            }
            Event::MappingStart(anchor, _) => {
                if !is_key {
                    index.positions.entry(node_path.clone()).or_insert(position(&span));
                }
                anchor_stack.push(anchor);
                stack.push(Frame::Mapping { map: Mapping::new(), path: node_path.clone(), pending_key: None });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Sequence { items, .. }) => Some((Value::Sequence(items), anchor_stack.pop().unwrap_or(0))),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Mapping { map, .. }) => Some((Value::Mapping(map), anchor_stack.pop().unwrap_or(0))),
                _ => None,
            },
        };
        let Some((value, anchor)) = completed else { continue };
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        let is_scalar_event = !matches!(value, Value::Sequence(_) | Value::Mapping(_));
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Sequence { items, path }) => {
                if is_scalar_event {
                    index.positions.entry(join_index(path, items.len())).or_insert(position(&span));
                }
                items.push(value);
            }
            Some(Frame::Mapping { map, path, pending_key }) => match pending_key.take() {
                None => {
                    let key = key_text(&value);
                    let key_path = join_key(path, &key);
                    if map.contains_key(&value) {
                        return Err(SyntaxError {
                            position: position(&span),
                            message: format!("duplicate key `{key}` in {}", if path.is_empty() { "the document" } else { path.as_str() }),
                        });
                    }
                    index.positions.insert(key_path, position(&span));
                    *pending_key = Some((key, value));
                }
                Some((_, key)) => {
                    map.insert(key, value);
                }
            },
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions() {
        let text = "version: prometheus/v1\nslos:\n  - name: a\n    objective: 99.9\n  - name: \"b\"\n    objective: 101\n---\nother: [1, 2]\n";
        let documents = parse_documents(text).unwrap();
        assert_eq!(documents.len(), 2);
        let first = &documents[0];
        assert_eq!(first.value["slos"][1]["objective"].as_i64(), Some(101));
        assert_eq!(first.value["slos"][0]["objective"].as_f64(), Some(99.9));
        assert_eq!(first.index.locate("slos[1].objective"), Position { line: 6, column: 5 });
        assert_eq!(first.index.locate("slos[1].name"), Position { line: 5, column: 5 });
        assert_eq!(first.index.locate("slos[1].missing.deeper"), Position { line: 5, column: 5 });
        assert_eq!(documents[1].index.locate("other[1]"), Position { line: 8, column: 12 });
    }

    #[test]
    fn syntax_errors_and_duplicate_keys_have_positions() {
        let error = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.position.line >= 1);
        let error = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.position.line, 3);
        assert!(error.message.contains("duplicate key `a`"), "{}", error.message);
    }

    #[test]
    fn scalars_resolve_like_yaml_core() {
        let documents = parse_documents("a: ~\nb: true\nc: '12'\nd: 0x10\ne: 1e3\nf: 12abc\n").unwrap();
        let value = &documents[0].value;
        assert!(value["a"].is_null());
        assert_eq!(value["b"].as_bool(), Some(true));
        assert_eq!(value["c"].as_str(), Some("12"));
        assert_eq!(value["d"].as_i64(), Some(16));
        assert_eq!(value["e"].as_f64(), Some(1000.0));
        assert_eq!(value["f"].as_str(), Some("12abc"));
    }
}
