//! Files and folders to documents, and typed decoding of a document's parts with every error
//! placed at its file, line and field path.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_serde::Value;

use crate::diag::{Diagnostic, Level, Report};
use crate::yaml::{self, LineIndex, Position};

/// One YAML document of one file, ready to be read by whichever format claims it.
///
/// Cheap to clone: definitions read from it keep a copy to report against later, so the
/// value and the line index are shared (a copy each made loading n SLOs from one file cost
/// memory and time in n²).
#[derive(Debug, Clone)]
pub struct SourceDoc {
    pub file: String,
    pub value: std::sync::Arc<Value>,
    pub index: std::sync::Arc<LineIndex>,
    /// Path prefix inside the file: empty, or `[3]` for the fourth item of a top-level list.
    pub prefix: String,
    pub position: Position,
}

impl SourceDoc {
    /// The full path of a field given relative to this document.
    pub fn full_path(&self, path: &str) -> String {
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) if path.starts_with('[') => format!("{}{path}", self.prefix),
            (false, false) => format!("{}.{path}", self.prefix),
        }
    }

    /// Where a field (relative to this document) is written.
    pub fn locate(&self, path: &str) -> Position {
        self.index.locate(&self.full_path(path))
    }

    /// A diagnostic about the field at `path` (relative to this document).
    pub fn diagnostic(&self, level: Level, path: &str, message: impl Into<String>) -> Diagnostic {
        let position = self.locate(path);
        Diagnostic {
            level,
            file: self.file.clone(),
            line: position.line,
            column: position.column,
            path: self.full_path(path),
            message: message.into(),
        }
    }

    pub fn error(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic(Level::Error, path, message)
    }

    pub fn warning(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic(Level::Warning, path, message)
    }

    /// A string field at the top of the document, if present.
    pub fn top_str(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// Decodes `value` (found at `path`, relative to this document) as `T`, reporting a failure
    /// with the exact field. Decode layer by layer (a list of `Value`s first, then each item) so
    /// that one bad item does not hide problems in the others.
    pub fn decode<T: DeserializeOwned>(
        &self,
        value: &Value,
        path: &str,
        report: &mut Report,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(decoded) => Some(decoded),
            Err(err) => {
                let inner_path = err.path().to_string();
                let inner_path = if inner_path == "." {
                    String::new()
                } else {
                    inner_path
                };
                let mut field_path = match (path.is_empty(), inner_path.is_empty()) {
                    (_, true) => path.to_string(),
                    (true, false) => inner_path,
                    (false, false) if inner_path.starts_with('[') => format!("{path}{inner_path}"),
                    (false, false) => format!("{path}.{inner_path}"),
                };
                let message = clean_serde_message(&err.into_inner().to_string());
                // An unknown field is best pointed at the field itself.
                if let Some(unknown) = unknown_field_name(&message) {
                    let candidate = crate::yaml::join_key(&field_path, unknown);
                    if self.index.get(&self.full_path(&candidate)).is_some() {
                        field_path = candidate;
                    }
                }
                report.push(self.error(&field_path, message));
                None
            }
        }
    }
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// serde's messages, minus the YAML crate's own location suffix (we give ours).
fn clean_serde_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(cut) => &message[..cut],
        None => message,
    };
    message.to_string()
}

/// Every YAML file under `paths` (files as given; folders searched recursively for `.yaml` and
/// `.yml`), sorted within each folder so results do not depend on the file system.
pub fn collect_files(paths: &[PathBuf], report: &mut Report) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files, report);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            report.push(file_error(path, "no such file or folder"));
        }
    }
    files
}

fn walk(folder: &Path, files: &mut Vec<PathBuf>, report: &mut Report) {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(err) => {
            report.push(file_error(folder, &format!("cannot read folder: {err}")));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files, report);
        } else if matches!(
            path.extension().and_then(|ext| ext.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

pub fn file_error(path: &Path, message: &str) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        file: path.display().to_string(),
        line: 0,
        column: 0,
        path: String::new(),
        message: message.to_string(),
    }
}

/// Reads one file's text into documents. A file that is a list of mappings carrying
/// `apiVersion` or `kind` is split into one document per item.
pub fn read_documents(file: &str, text: &str, report: &mut Report) -> Vec<SourceDoc> {
    let documents = match yaml::parse_documents(text) {
        Ok(documents) => documents,
        Err(err) => {
            report.push(Diagnostic {
                level: Level::Error,
                file: file.to_string(),
                line: err.position.line,
                column: err.position.column,
                path: String::new(),
                message: format!("invalid YAML: {}", err.message),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for document in documents {
        if document.value.is_null() {
            continue;
        }
        if let Value::Sequence(items) = &document.value {
            let is_list_of_objects = !items.is_empty()
                && items
                    .iter()
                    .all(|item| item.get("apiVersion").is_some() || item.get("kind").is_some());
            if is_list_of_objects {
                let index = std::sync::Arc::new(document.index);
                for (position, item) in items.iter().enumerate() {
                    let prefix = format!("[{position}]");
                    out.push(SourceDoc {
                        file: file.to_string(),
                        value: std::sync::Arc::new(item.clone()),
                        index: index.clone(),
                        position: index.locate(&prefix),
                        prefix,
                    });
                }
                continue;
            }
        }
        out.push(SourceDoc {
            file: file.to_string(),
            value: std::sync::Arc::new(document.value),
            index: std::sync::Arc::new(document.index),
            prefix: String::new(),
            position: document.position,
        });
    }
    out
}
