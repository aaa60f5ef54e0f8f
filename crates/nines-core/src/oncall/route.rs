//! The routing tree (Alertmanager semantics): which escalation policy an alert pages and how
//! alerts group into pages, plus the group key and label fingerprint.

use std::fmt::Write as _;

use super::Labels;
use super::matcher::{Matcher, matches_all, quote};

/// The `group_by` entry that means every label: each distinct label set is its own page.
pub const GROUP_BY_ALL: &str = "...";

/// A node of the routing tree (Alertmanager semantics).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    /// Ignored on the root, which matches every alert.
    pub matchers: Vec<Matcher>,
    /// Escalation policy id; None inherits the parent's.
    pub policy: Option<String>,
    /// Labels that group alerts into one page; None inherits the parent's; the root's default is
    /// `["..."]` = every label (each alert its own page).
    pub group_by: Option<Vec<String>>,
    /// Keep looking at later siblings after this one matched.
    pub continue_matching: bool,
    pub routes: Vec<Route>,
}

/// Where an alert lands in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// Resolved (inherited) policy; None when no node on the path names one (the server then
    /// falls back to the escalation policy of the team owning the alert's `service` label).
    pub policy: Option<String>,
    pub group_by: Vec<String>,
    /// Child indexes from the root, for messages and for the group key.
    pub path: Vec<usize>,
}

impl RouteMatch {
    /// The path as text: child indexes joined by `.` (`0.2`), `root` for the root itself.
    pub fn path_text(&self) -> String {
        if self.path.is_empty() {
            return "root".to_string();
        }
        let parts: Vec<String> = self.path.iter().map(usize::to_string).collect();
        parts.join(".")
    }

    /// Whether `group_by` means every label (it holds `...`).
    pub fn groups_by_all(&self) -> bool {
        self.group_by.iter().any(|label| label == GROUP_BY_ALL)
    }
}

impl Route {
    /// The root always matches (its matchers are ignored); depth-first; at each level the first
    /// matching child wins unless it has `continue_matching`; a node with no matching child is a
    /// match itself. Never empty.
    ///
    /// A child whose `continue_matching` is set contributes its matches and the search goes on
    /// with its later siblings; if no sibling matches, the parent is not added (its children
    /// matched), exactly as Alertmanager does.
    pub fn resolve(&self, labels: &Labels) -> Vec<RouteMatch> {
        let root_group_by = self
            .group_by
            .clone()
            .unwrap_or_else(|| vec![GROUP_BY_ALL.to_string()]);
        let mut matches = Vec::new();
        let mut path = Vec::new();
        self.resolve_below(
            labels,
            self.policy.clone(),
            &root_group_by,
            &mut path,
            &mut matches,
        );
        matches
    }

    fn resolve_below(
        &self,
        labels: &Labels,
        policy: Option<String>,
        group_by: &[String],
        path: &mut Vec<usize>,
        matches: &mut Vec<RouteMatch>,
    ) {
        let mut any_child_matched = false;
        for (index, child) in self.routes.iter().enumerate() {
            if !matches_all(&child.matchers, labels) {
                continue;
            }
            any_child_matched = true;
            let child_policy = child.policy.clone().or_else(|| policy.clone());
            let child_group_by = child.group_by.as_deref().unwrap_or(group_by);
            path.push(index);
            child.resolve_below(labels, child_policy, child_group_by, path, matches);
            path.pop();
            if !child.continue_matching {
                break;
            }
        }
        if !any_child_matched {
            matches.push(RouteMatch {
                policy,
                group_by: group_by.to_vec(),
                path: path.clone(),
            });
        }
    }
}

/// Key of the page an alert joins: the route path plus the values of `group_by` labels
/// (`["..."]` = the alert's fingerprint). Stable text, e.g. `0.2:{service="api"}`.
///
/// Group labels are sorted by name and deduplicated; a group label the alert lacks (or has
/// empty) is left out, so such alerts group together (Alertmanager does the same). With `...`
/// the key is `path:fingerprint`, e.g. `root:5c1b0e24a7d3f9e1`.
pub fn group_key(route: &RouteMatch, labels: &Labels, fingerprint: &str) -> String {
    let mut key = route.path_text();
    key.push(':');
    if route.groups_by_all() {
        key.push_str(fingerprint);
        return key;
    }
    let mut names: Vec<&str> = route.group_by.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    key.push('{');
    let mut first = true;
    for name in names {
        let Some(value) = labels.get(name).filter(|value| !value.is_empty()) else {
            continue;
        };
        if !first {
            key.push(',');
        }
        first = false;
        let _ = write!(key, "{name}={}", quote(value));
    }
    key.push('}');
    key
}

/// Fingerprint of a label set (for alerts that bring none): FNV-1a 64 over each `name`, a
/// 0xff byte, `value`, a 0xff byte, in label-name order, printed as 16 lowercase hex digits.
/// The same labels give the same text on every platform (0xff never occurs in UTF-8, so
/// `{a="bc"}` and `{ab="c"}` differ).
pub fn fingerprint(labels: &Labels) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        feed(name.as_bytes());
        feed(&[0xff]);
        feed(value.as_bytes());
        feed(&[0xff]);
    }
    format!("{hash:016x}")
}
