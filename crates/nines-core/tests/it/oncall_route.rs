//! The routing tree: Alertmanager's first-match, continue and inheritance rules, group keys and
//! fingerprints.

use nines_core::oncall::Labels;
use nines_core::oncall::matcher::{matches_all, parse_matchers};
use nines_core::oncall::route::{Route, RouteMatch, fingerprint, group_key};
use proptest::prelude::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn node(matchers: &str, policy: Option<&str>, routes: Vec<Route>) -> Route {
    Route {
        matchers: parse_matchers(matchers).unwrap(),
        policy: policy.map(str::to_string),
        group_by: None,
        continue_matching: false,
        routes,
    }
}

fn grouped(mut route: Route, group_by: &[&str]) -> Route {
    route.group_by = Some(group_by.iter().map(|label| label.to_string()).collect());
    route
}

fn continuing(mut route: Route) -> Route {
    route.continue_matching = true;
    route
}

/// Each match as `path policy [group_by]`, e.g. `0.1 db-oncall [service]`.
fn check(root: &Route, pairs: &[(&str, &str)], expected: &[&str]) {
    let found: Vec<String> = root
        .resolve(&labels(pairs))
        .iter()
        .map(|found| {
            format!(
                "{} {} [{}]",
                found.path_text(),
                found.policy.as_deref().unwrap_or("-"),
                found.group_by.join(",")
            )
        })
        .collect();
    assert_eq!(found, expected, "labels {pairs:?}");
}

/// root (policy default, group_by [alertname])
///   0: team="db" (policy db, group_by [service])
///        0: severity="page" (policy db-page)
///        1: env="staging"
///   1: team="api", continue
///   2: team=~"api|web" (policy web)
///   3: severity="page"
fn tree() -> Route {
    grouped(
        node(
            "",
            Some("default"),
            vec![
                grouped(
                    node(
                        "team=\"db\"",
                        Some("db"),
                        vec![
                            node("severity=\"page\"", Some("db-page"), vec![]),
                            node("env=\"staging\"", None, vec![]),
                        ],
                    ),
                    &["service"],
                ),
                continuing(node("team=\"api\"", None, vec![])),
                node("team=~\"api|web\"", Some("web"), vec![]),
                node("severity=\"page\"", None, vec![]),
            ],
        ),
        &["alertname"],
    )
}

#[test]
fn an_alert_matching_no_child_stays_at_the_root() {
    check(&tree(), &[("team", "ops")], &["root default [alertname]"]);
    check(&tree(), &[], &["root default [alertname]"]);
}

#[test]
fn the_first_matching_child_wins() {
    // severity="page" would also match child 3, but child 0 matched first.
    check(
        &tree(),
        &[("team", "db"), ("severity", "page")],
        &["0.0 db-page [service]"],
    );
    check(&tree(), &[("team", "web")], &["2 web [alertname]"]);
    check(&tree(), &[("severity", "page")], &["3 default [alertname]"]);
}

#[test]
fn a_node_with_no_matching_child_matches_itself() {
    check(&tree(), &[("team", "db")], &["0 db [service]"]);
}

#[test]
fn policy_and_group_by_are_inherited_down_the_path() {
    // 0.1 names neither: both come from node 0.
    check(
        &tree(),
        &[("team", "db"), ("env", "staging")],
        &["0.1 db [service]"],
    );
}

#[test]
fn continue_keeps_looking_at_later_siblings() {
    // Child 1 matches and continues; child 2 matches and stops, so child 3 is not tried.
    check(
        &tree(),
        &[("team", "api"), ("severity", "page")],
        &["1 default [alertname]", "2 web [alertname]"],
    );
}

#[test]
fn a_continuing_child_alone_does_not_add_its_parent() {
    let root = node(
        "",
        None,
        vec![
            continuing(node("a=\"1\"", Some("p"), vec![])),
            node("b=\"1\"", None, vec![]),
        ],
    );
    check(&root, &[("a", "1")], &["0 p [...]"]);
    check(
        &root,
        &[("a", "1"), ("b", "1")],
        &["0 p [...]", "1 - [...]"],
    );
    check(&root, &[], &["root - [...]"]);
}

#[test]
fn continue_inside_a_nested_subtree() {
    let root = node(
        "",
        Some("top"),
        vec![
            node(
                "team=\"db\"",
                None,
                vec![
                    continuing(node("severity=\"page\"", Some("pager"), vec![])),
                    continuing(node("env=\"prod\"", Some("prod"), vec![])),
                    node("region=~\"eu.*\"", Some("eu"), vec![]),
                ],
            ),
            node("team=\"db\"", Some("never"), vec![]),
        ],
    );
    check(
        &root,
        &[
            ("team", "db"),
            ("severity", "page"),
            ("env", "prod"),
            ("region", "eu-1"),
        ],
        &["0.0 pager [...]", "0.1 prod [...]", "0.2 eu [...]"],
    );
    check(
        &root,
        &[("team", "db"), ("env", "prod")],
        &["0.1 prod [...]"],
    );
    check(&root, &[("team", "db")], &["0 top [...]"]);
}

#[test]
fn the_roots_matchers_are_ignored_and_its_default_groups_by_everything() {
    let root = node("team=\"nobody\"", None, vec![]);
    check(&root, &[("team", "db")], &["root - [...]"]);
}

#[test]
fn an_empty_group_by_list_puts_every_alert_of_the_route_in_one_page() {
    let root = grouped(node("", None, vec![]), &[]);
    let found = &root.resolve(&labels(&[("a", "1")]))[0];
    assert_eq!(found.group_by, Vec::<String>::new());
    assert_eq!(group_key(found, &labels(&[("a", "1")]), "f1"), "root:{}");
    assert_eq!(group_key(found, &labels(&[("a", "2")]), "f2"), "root:{}");
}

#[test]
fn group_keys_are_stable_text() {
    let found = RouteMatch {
        policy: None,
        group_by: vec!["team".into(), "service".into(), "team".into()],
        path: vec![0, 2],
    };
    let alert = labels(&[("service", "api"), ("team", "db"), ("pod", "x-1")]);
    assert_eq!(
        group_key(&found, &alert, "ignored"),
        "0.2:{service=\"api\",team=\"db\"}"
    );
    // Other labels do not matter; group_by order does not matter.
    let other_pod = labels(&[("service", "api"), ("team", "db"), ("pod", "x-2")]);
    let reordered = RouteMatch {
        group_by: vec!["service".into(), "team".into()],
        ..found.clone()
    };
    assert_eq!(
        group_key(&reordered, &other_pod, "other"),
        group_key(&found, &alert, "ignored")
    );
    // Missing and empty group labels are left out, so such alerts share a page.
    assert_eq!(
        group_key(&found, &labels(&[("service", "api")]), "f"),
        "0.2:{service=\"api\"}"
    );
    assert_eq!(
        group_key(&found, &labels(&[("service", "api"), ("team", "")]), "f"),
        "0.2:{service=\"api\"}"
    );
    // Values are quoted and escaped like matchers.
    assert_eq!(
        group_key(&found, &labels(&[("service", "a\"b,c")]), "f"),
        "0.2:{service=\"a\\\"b,c\"}"
    );
    // A different route path is a different page.
    let elsewhere = RouteMatch {
        path: vec![1],
        ..found.clone()
    };
    assert_ne!(
        group_key(&elsewhere, &alert, "x"),
        group_key(&found, &alert, "x")
    );
}

#[test]
fn group_by_everything_uses_the_fingerprint() {
    let found = RouteMatch {
        policy: None,
        group_by: vec!["...".into()],
        path: vec![],
    };
    let alert = labels(&[("service", "api")]);
    let print = fingerprint(&alert);
    assert_eq!(group_key(&found, &alert, &print), format!("root:{print}"));
    let mixed = RouteMatch {
        group_by: vec!["service".into(), "...".into()],
        ..found
    };
    assert_eq!(group_key(&mixed, &alert, "abc"), "root:abc");
}

#[test]
fn fingerprints_are_fixed_hex() {
    // FNV-1a 64 of nothing is its offset basis; the others pin the algorithm across platforms.
    assert_eq!(fingerprint(&Labels::new()), "cbf29ce484222325");
    let one = fingerprint(&labels(&[("a", "b")]));
    assert_eq!(one.len(), 16);
    assert!(
        one.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(one, fingerprint(&labels(&[("a", "b")])));
    // The separator keeps name and value apart.
    assert_ne!(
        fingerprint(&labels(&[("a", "bc")])),
        fingerprint(&labels(&[("ab", "c")]))
    );
    assert_ne!(
        fingerprint(&labels(&[("a", "b")])),
        fingerprint(&labels(&[("a", "b"), ("c", "")]))
    );
    assert_eq!(
        fingerprint(&labels(&[("alertname", "HighLatency"), ("service", "api")])),
        fnv1a_reference(b"alertname\xffHighLatency\xffservice\xffapi\xff")
    );
}

/// FNV-1a 64 written out from its definition.
fn fnv1a_reference(bytes: &[u8]) -> String {
    let mut hash: u64 = 14_695_981_039_346_656_037;
    for byte in bytes {
        hash ^= *byte as u64;
        hash = hash.wrapping_mul(1_099_511_628_211);
    }
    format!("{hash:016x}")
}

proptest! {
    #[test]
    fn fingerprint_is_stable_across_insertion_order(
        pairs in prop::collection::vec(("[a-e]{1,3}", ".{0,5}"), 0..8),
    ) {
        let forward: Labels = pairs.iter().cloned().collect();
        let mut backward = Labels::new();
        for (name, value) in pairs.iter().rev() {
            // Keep the value the forward map kept (the last one inserted).
            backward.entry(name.clone()).or_insert_with(|| value.clone());
        }
        prop_assert_eq!(&forward, &backward);
        prop_assert_eq!(fingerprint(&forward), fingerprint(&backward));
    }

    #[test]
    fn resolve_is_never_empty_and_paths_exist(
        team in "[a-z]{0,4}",
        severity in prop::sample::select(vec!["page", "ticket", ""]),
        env in prop::sample::select(vec!["staging", "prod", ""]),
    ) {
        let root = tree();
        let alert = labels(&[("team", &team), ("severity", severity), ("env", env)]);
        let found = root.resolve(&alert);
        prop_assert!(!found.is_empty());
        for found in &found {
            let mut at = &root;
            for index in &found.path {
                at = &at.routes[*index];
            }
            // The node reached has no matching child (else its child would be the match).
            let child_matches = at.routes.iter().any(|child| matches_all(&child.matchers, &alert));
            prop_assert!(!child_matches);
            prop_assert!(found.policy.is_some());
        }
    }
}
