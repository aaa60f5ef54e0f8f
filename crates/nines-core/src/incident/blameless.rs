//! A blameless-language check for postmortems: sentences that blame a person rather than
//! describe what the system allowed.

use regex::Regex;

/// A sentence that reads as blame, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlameFinding {
    /// The sentence, trimmed, as written.
    pub sentence: String,
    pub reason: String,
}

/// Verbs (and verb phrases) that put a failure on whoever comes before them.
const BLAME_VERBS: &[&str] = &[
    "forgot",
    "forgets",
    "forgotten",
    "broken",
    "failed to",
    "fails to",
    "broke",
    "breaks",
    "caused",
    "messed up",
    "screwed up",
    "neglected",
    "should have",
    "should've",
    "shouldn't have",
    "should not have",
    "didn't",
    "did not",
    "ignored",
    "overlooked",
    "was careless",
    "was negligent",
    "was sloppy",
    "was lazy",
];

/// Words that may stand between a name and a blame verb: `Bob accidentally broke`, `Alice
/// had forgotten` is covered by `had` then a verb form below.
const FILLERS: &[&str] = &[
    "accidentally",
    "again",
    "also",
    "apparently",
    "clearly",
    "completely",
    "just",
    "obviously",
    "simply",
    "then",
    "totally",
    "had",
    "has",
];

/// Phrases that blame whoever they are about, with or without a name.
const BLAME_PHRASES: &[(&str, &str)] = &[
    (
        r"\bhuman errors?\b",
        "\"human error\" ends the inquiry at a person",
    ),
    (r"(?:'|’)s fault\b", "assigns fault to someone"),
    (
        r"\b(?:his|her|their|my|your) fault\b",
        "assigns fault to someone",
    ),
    (r"\bcareless(?:ly|ness)?\b", "calls someone careless"),
    (r"\bincompeten(?:t|ce)\b", "calls someone incompetent"),
    (r"\bnegligen(?:t|ce)\b", "calls someone negligent"),
];

/// Sentences of `text` that blame a person rather than a system.
///
/// A sentence is flagged when one of `people` (matched as whole words, without regard to
/// case) is followed by a blame verb (`forgot`, `failed to`, `broke`, `caused`, `messed up`,
/// `should have`, `didn't`, `ignored`, ...), optionally with one adverb between
/// (`accidentally`); when `he`, `she` or `they` is followed by one after a name earlier in
/// the sentence or in the sentence before; or when it says `human error`, `'s fault`,
/// `careless`, `incompetent`, `negligent`, or `to blame` (but not `nobody is to blame`).
///
/// Kept narrow on purpose: a blame verb with no person before it (`the deploy failed`,
/// `the retry caused a storm`) and a name with a neutral verb (`Alice fixed the config`) are
/// fine. Pass every form a person is written in (handle and display name).
///
/// Sentences end at `.`, `!` or `?` followed by a space, and at line ends (list items).
pub fn check(text: &str, people: &[&str]) -> Vec<BlameFinding> {
    let matchers = Matchers::new(people);
    let sentences = split_sentences(text);
    let mut findings = Vec::new();
    let mut previous_names_person = false;
    for sentence in &sentences {
        let name_position = matchers.first_name(sentence);
        if let Some(reason) = matchers.blame(sentence, name_position, previous_names_person) {
            findings.push(BlameFinding {
                sentence: sentence.to_string(),
                reason,
            });
        }
        previous_names_person = name_position.is_some();
    }
    findings
}

struct Matchers {
    /// A known name; None when no people are given.
    name: Option<Regex>,
    /// A known name then a blame verb: group 1 is the name, group 2 the verb.
    name_then_verb: Option<Regex>,
    /// He, she or they then a blame verb: group 1 the pronoun, group 2 the verb.
    pronoun_then_verb: Option<Regex>,
    to_blame: Option<Regex>,
    phrases: Vec<(Regex, &'static str)>,
}

impl Matchers {
    fn new(people: &[&str]) -> Matchers {
        let verbs = alternation(BLAME_VERBS);
        let fillers = alternation(FILLERS);
        let names: Vec<&str> = people
            .iter()
            .map(|person| person.trim())
            .filter(|person| !person.is_empty())
            .collect();
        let (name, name_then_verb) = if names.is_empty() {
            (None, None)
        } else {
            let names = alternation(&names);
            let name = compile(&format!(r"(?i)\b(?:{names})\b"));
            let name_then_verb = compile(&format!(
                r"(?i)\b({names})\b(?:\s+(?:{fillers}))?\s+({verbs})\b"
            ));
            (name, name_then_verb)
        };
        let pronoun_then_verb = compile(&format!(
            r"(?i)\b(he|she|they)\b(?:\s+(?:{fillers}))?\s+({verbs})\b"
        ));
        let to_blame = compile(
            r"(?i)(\b(?:nobody|no one|noone|not|none|no single person)\b[\w\s]{0,12})?\bto blame\b",
        );
        let phrases = BLAME_PHRASES
            .iter()
            .filter_map(|(pattern, reason)| {
                compile(&format!("(?i){pattern}")).map(|regex| (regex, *reason))
            })
            .collect();
        Matchers {
            name,
            name_then_verb,
            pronoun_then_verb,
            to_blame,
            phrases,
        }
    }

    fn first_name(&self, sentence: &str) -> Option<usize> {
        self.name
            .as_ref()
            .and_then(|name| name.find(sentence))
            .map(|found| found.start())
    }

    fn blame(
        &self,
        sentence: &str,
        name_position: Option<usize>,
        previous_names_person: bool,
    ) -> Option<String> {
        if let Some(captures) = self
            .name_then_verb
            .as_ref()
            .and_then(|regex| regex.captures(sentence))
        {
            let name = captures.get(1).map_or("", |found| found.as_str());
            let verb = captures.get(2).map_or("", |found| found.as_str());
            return Some(format!(
                "puts the failure on {name} (\"{verb}\"): say what the system allowed instead"
            ));
        }
        for captures in self
            .pronoun_then_verb
            .iter()
            .flat_map(|regex| regex.captures_iter(sentence))
        {
            let Some(pronoun) = captures.get(1) else {
                continue;
            };
            let after_a_name = name_position.is_some_and(|position| position < pronoun.start());
            if after_a_name || previous_names_person {
                let verb = captures.get(2).map_or("", |found| found.as_str());
                return Some(format!(
                    "puts the failure on a person (\"{} {verb}\"): say what the system \
                     allowed instead",
                    pronoun.as_str()
                ));
            }
        }
        for captures in self
            .to_blame
            .iter()
            .flat_map(|regex| regex.captures_iter(sentence))
        {
            if captures.get(1).is_none() {
                return Some("looks for someone to blame".to_string());
            }
        }
        for (regex, reason) in &self.phrases {
            if regex.is_match(sentence) {
                return Some(reason.to_string());
            }
        }
        None
    }
}

/// `a|b|c` of the escaped words, longest first (so `failed to` wins over a prefix), with
/// spaces matching any whitespace.
fn alternation(words: &[&str]) -> String {
    let mut words: Vec<&str> = words.to_vec();
    words.sort_by_key(|word| std::cmp::Reverse(word.len()));
    words.dedup();
    words
        .iter()
        .map(|word| {
            word.split_whitespace()
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(r"\s+")
                .replace('\'', "(?:'|’)")
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The patterns here are built from escaped words, so they compile; a failure (a size limit
/// with thousands of names) turns that matcher off rather than panicking.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// Sentences: split at `.`, `!`, `?` followed by whitespace or the end, and at line ends;
/// list markers (`- `, `* `, `1. `) are dropped; empty pieces are skipped.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    for line in text.lines() {
        let line = strip_list_marker(line.trim());
        let mut start = 0;
        let mut characters = line.char_indices().peekable();
        while let Some((index, character)) = characters.next() {
            if !matches!(character, '.' | '!' | '?') {
                continue;
            }
            let at_break = characters
                .peek()
                .is_none_or(|(_, next)| next.is_whitespace());
            if at_break {
                let end = index + character.len_utf8();
                let sentence = line[start..end].trim();
                if !sentence.is_empty() {
                    sentences.push(sentence);
                }
                start = end;
            }
        }
        let rest = line[start..].trim();
        if !rest.is_empty() {
            sentences.push(rest);
        }
    }
    sentences
}

fn strip_list_marker(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return rest.trim_start();
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = line[digits..].strip_prefix(". ")
    {
        return rest.trim_start();
    }
    line
}
