//! Label matchers (`severity="page"`, `team=~"db|api"`, `env!=prod`) with Alertmanager
//! semantics: a missing label reads as "", regexes are fully anchored.

use std::fmt;

use regex::Regex;

use super::Labels;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, the whole value matches the regex
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written: `=`, `!=`, `=~`, `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition on one label.
///
/// Equality compares `(name, op, value)`; the compiled regex is derived from them.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// `^(?:value)$` for the regex operators.
    regex: Option<Regex>,
}

/// A matcher that could not be built; every variant names the text it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    #[error(
        "matcher {text:?}: expected a label name, an operator (=, !=, =~, !~) and a value, for example severity=\"page\""
    )]
    MissingOperator { text: String },
    #[error(
        "matcher {text:?}: invalid label name {name:?}: use letters, digits and _, not starting with a digit"
    )]
    InvalidLabelName { text: String, name: String },
    #[error("matcher {text:?}: the quoted value has no closing quote")]
    UnterminatedQuote { text: String },
    #[error("matcher {text:?}: unexpected {rest:?} after the quoted value")]
    TrailingText { text: String, rest: String },
    #[error(
        "matcher {text:?}: the unquoted value {value:?} contains {character:?}; quote the value"
    )]
    InvalidUnquotedValue {
        text: String,
        value: String,
        character: char,
    },
    #[error("matcher {text:?}: invalid regular expression {value:?}: {reason}")]
    InvalidRegex {
        text: String,
        value: String,
        reason: String,
    },
    #[error(
        "matchers {text:?}: expected a list in braces, for example {{severity=\"page\", team=\"db\"}}"
    )]
    InvalidList { text: String },
}

impl Matcher {
    /// Builds a matcher, checking the label name and compiling the regex of `=~` and `!~`.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, MatcherError> {
        let text = || format!("{name}{op}{}", quote(value));
        if !is_label_name(name) {
            return Err(MatcherError::InvalidLabelName {
                text: text(),
                name: name.to_string(),
            });
        }
        let regex = match op {
            MatchOp::Equal | MatchOp::NotEqual => None,
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(value).map_err(
                |reason| MatcherError::InvalidRegex {
                    text: text(),
                    value: value.to_string(),
                    reason,
                },
            )?),
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses one matcher: `severity="page"`, `team=~"db|api"`, `env!=prod`.
    ///
    /// Spaces around the name, operator and value are allowed. A quoted value takes the escapes
    /// `\"`, `\\`, `\n` and `\t`; any other backslash is kept as written, so regex escapes such as
    /// `"db\.prod"` need no doubling (Alertmanager does the same). An unquoted value may be empty
    /// and may not contain spaces or any of `{ } ! = ~ , \ " ' ``` (the characters Alertmanager's
    /// matcher parser reserves); quote it otherwise.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        let owned_text = || text.to_string();
        let Some(op_position) = text.find(['=', '!']) else {
            return Err(MatcherError::MissingOperator { text: owned_text() });
        };
        let name = text[..op_position].trim();
        let after_name = &text[op_position..];
        let (op, rest) = if let Some(rest) = after_name.strip_prefix("=~") {
            (MatchOp::Regex, rest)
        } else if let Some(rest) = after_name.strip_prefix("!~") {
            (MatchOp::NotRegex, rest)
        } else if let Some(rest) = after_name.strip_prefix("!=") {
            (MatchOp::NotEqual, rest)
        } else if let Some(rest) = after_name.strip_prefix('=') {
            (MatchOp::Equal, rest)
        } else {
            return Err(MatcherError::MissingOperator { text: owned_text() });
        };
        if !is_label_name(name) {
            return Err(MatcherError::InvalidLabelName {
                text: owned_text(),
                name: name.to_string(),
            });
        }
        let rest = rest.trim();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let (value, after) = unquote(quoted)
                .ok_or_else(|| MatcherError::UnterminatedQuote { text: owned_text() })?;
            if !after.trim().is_empty() {
                return Err(MatcherError::TrailingText {
                    text: owned_text(),
                    rest: after.trim().to_string(),
                });
            }
            value
        } else {
            if let Some(character) = rest.chars().find(|c| is_reserved_unquoted(*c)) {
                return Err(MatcherError::InvalidUnquotedValue {
                    text: owned_text(),
                    value: rest.to_string(),
                    character,
                });
            }
            rest.to_string()
        };
        let regex = match op {
            MatchOp::Equal | MatchOp::NotEqual => None,
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(&value).map_err(
                |reason| MatcherError::InvalidRegex {
                    text: owned_text(),
                    value: value.clone(),
                    reason,
                },
            )?),
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value,
            regex,
        })
    }

    /// Whether the labels satisfy this matcher. A missing label reads as "" (as in
    /// Alertmanager), so `env!="prod"` matches alerts without `env` and `env=""` matches only them.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(regex)) => regex.is_match(value),
            (MatchOp::NotRegex, Some(regex)) => !regex.is_match(value),
            // Unreachable by construction (both constructors compile the regex); a matcher
            // without its regex matches nothing rather than everything.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Display for Matcher {
    /// The parseable form, value always quoted: `team=~"db|api"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, quote(&self.value))
    }
}

impl std::str::FromStr for Matcher {
    type Err = MatcherError;
    fn from_str(text: &str) -> Result<Matcher, MatcherError> {
        Matcher::parse(text)
    }
}

/// Whether every matcher matches (true for none).
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|matcher| matcher.matches(labels))
}

/// Parses a list in braces, `{severity="page", team=~"db|api"}` (braces optional, `{}` is the
/// empty list). Commas inside quoted values do not separate.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    let trimmed = text.trim();
    let inner = match (trimmed.strip_prefix('{'), trimmed.ends_with('}')) {
        (Some(open), true) => &open[..open.len() - 1],
        (None, false) => trimmed,
        _ => {
            return Err(MatcherError::InvalidList {
                text: text.to_string(),
            });
        }
    };
    let mut matchers = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pieces = Vec::new();
    for (index, character) in inner.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                pieces.push(&inner[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    pieces.push(&inner[start..]);
    let last = pieces.len() - 1;
    for (index, piece) in pieces.into_iter().enumerate() {
        // A trailing comma (or an empty list) leaves an empty last piece.
        if index == last && piece.trim().is_empty() {
            continue;
        }
        matchers.push(Matcher::parse(piece)?);
    }
    Ok(matchers)
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut characters = name.chars();
    match characters.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return false,
    }
    characters.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_reserved_unquoted(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            '{' | '}' | '!' | '=' | '~' | ',' | '\\' | '"' | '\'' | '`'
        )
}

/// `"value"` with `\`, `"` and line breaks escaped, the form `parse` reads back.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for character in value.chars() {
        match character {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            _ => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// Reads a quoted value after its opening quote: the value and the text after the closing
/// quote, or None when there is no closing quote.
fn unquote(quoted: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut characters = quoted.char_indices();
    while let Some((index, character)) = characters.next() {
        match character {
            '"' => return Some((value, &quoted[index + 1..])),
            '\\' => match characters.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            _ => value.push(character),
        }
    }
    None
}

/// Compiles `^(?:value)$`. The error is the regex crate's own last line (`unclosed group`),
/// found by compiling the value as written so that it points into the user's text.
fn compile_anchored(value: &str) -> Result<Regex, String> {
    let short_reason = |error: regex::Error| {
        let message = error.to_string();
        message
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(message.lines().last().unwrap_or("invalid"))
            .to_string()
    };
    Regex::new(value).map_err(short_reason)?;
    Regex::new(&format!("^(?:{value})$")).map_err(short_reason)
}
