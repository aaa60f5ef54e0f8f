//! Label matchers: the four operators, anchored regexes, missing labels, parsing and printing.

use nines_core::oncall::Labels;
use nines_core::oncall::matcher::{MatchOp, Matcher, MatcherError, matches_all, parse_matchers};
use proptest::prelude::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// `(matcher text, labels, expected)`.
type MatchCase<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

fn check_matches(cases: &[MatchCase<'_>]) {
    for (text, pairs, expected) in cases {
        let matcher = Matcher::parse(text).unwrap();
        assert_eq!(
            matcher.matches(&labels(pairs)),
            *expected,
            "{text} on {pairs:?}"
        );
    }
}

#[test]
fn the_four_operators() {
    check_matches(&[
        ("severity=\"page\"", &[("severity", "page")], true),
        ("severity=\"page\"", &[("severity", "ticket")], false),
        ("severity!=\"page\"", &[("severity", "ticket")], true),
        ("severity!=\"page\"", &[("severity", "page")], false),
        ("team=~\"db|api\"", &[("team", "db")], true),
        ("team=~\"db|api\"", &[("team", "api")], true),
        ("team=~\"db|api\"", &[("team", "web")], false),
        ("team!~\"db|api\"", &[("team", "web")], true),
        ("team!~\"db|api\"", &[("team", "api")], false),
    ]);
}

#[test]
fn regexes_are_fully_anchored() {
    check_matches(&[
        ("x=~\"a\"", &[("x", "ab")], false),
        ("x=~\"a\"", &[("x", "ba")], false),
        ("x=~\"a\"", &[("x", "a")], true),
        ("x=~\"a|b\"", &[("x", "ab")], false),
        ("x=~\"a.*\"", &[("x", "ab")], true),
        ("x!~\"a\"", &[("x", "ab")], true),
        ("x=~\"db\\.prod\"", &[("x", "db.prod")], true),
        ("x=~\"db\\.prod\"", &[("x", "dbxprod")], false),
        ("x=~\"(?i)DB\"", &[("x", "db")], true),
    ]);
}

#[test]
fn a_missing_label_reads_as_empty() {
    check_matches(&[
        ("env=\"\"", &[], true),
        ("env=\"\"", &[("env", "prod")], false),
        ("env!=\"prod\"", &[], true),
        ("env=\"prod\"", &[], false),
        ("env=~\".*\"", &[], true),
        ("env=~\".+\"", &[], false),
        ("env!~\".+\"", &[], true),
        ("env=", &[], true),
    ]);
}

#[test]
fn matches_all_needs_every_matcher() {
    let matchers = parse_matchers("{severity=\"page\", team=~\"db|api\"}").unwrap();
    assert!(matches_all(
        &matchers,
        &labels(&[("severity", "page"), ("team", "db")])
    ));
    assert!(!matches_all(
        &matchers,
        &labels(&[("severity", "page"), ("team", "web")])
    ));
    assert!(!matches_all(&matchers, &labels(&[("team", "db")])));
    assert!(matches_all(&[], &labels(&[])));
}

#[test]
fn parses_quoted_unquoted_and_escaped_forms() {
    let cases: &[(&str, &str, MatchOp, &str)] = &[
        ("severity=\"page\"", "severity", MatchOp::Equal, "page"),
        ("severity=page", "severity", MatchOp::Equal, "page"),
        ("env!=prod", "env", MatchOp::NotEqual, "prod"),
        ("team=~db|api", "team", MatchOp::Regex, "db|api"),
        ("team!~\"db|api\"", "team", MatchOp::NotRegex, "db|api"),
        ("  team  =~  \"db|api\"  ", "team", MatchOp::Regex, "db|api"),
        ("_x1 = y", "_x1", MatchOp::Equal, "y"),
        ("env=", "env", MatchOp::Equal, ""),
        ("env=\"\"", "env", MatchOp::Equal, ""),
        (
            "msg=\"say \\\"hi\\\"\"",
            "msg",
            MatchOp::Equal,
            "say \"hi\"",
        ),
        ("path=\"C:\\\\dir\"", "path", MatchOp::Equal, "C:\\dir"),
        ("text=\"a\\nb\\tc\"", "text", MatchOp::Equal, "a\nb\tc"),
        ("host=~\"db\\.prod\"", "host", MatchOp::Regex, "db\\.prod"),
        (
            "note=\"a, b = c {d}\"",
            "note",
            MatchOp::Equal,
            "a, b = c {d}",
        ),
        ("unicode=\"café ☕\"", "unicode", MatchOp::Equal, "café ☕"),
    ];
    for (text, name, op, value) in cases {
        let matcher = Matcher::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(matcher.name, *name, "{text}");
        assert_eq!(matcher.op, *op, "{text}");
        assert_eq!(matcher.value, *value, "{text}");
        assert_eq!(matcher, Matcher::new(name, *op, value).unwrap(), "{text}");
    }
}

#[test]
fn bad_text_gets_an_error_naming_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("severity", "expected a label name, an operator"),
        ("", "expected a label name, an operator"),
        ("severity!page", "expected a label name, an operator"),
        ("=page", "invalid label name \"\""),
        ("1team=db", "invalid label name \"1team\""),
        ("se-verity=page", "invalid label name \"se-verity\""),
        ("team.name=db", "invalid label name \"team.name\""),
        ("severity=\"page", "no closing quote"),
        ("severity=\"page\\\"", "no closing quote"),
        (
            "severity=\"page\" x",
            "unexpected \"x\" after the quoted value",
        ),
        ("severity=pa ge", "contains ' '; quote the value"),
        ("severity=a=b", "contains '='; quote the value"),
        ("severity=a,b", "contains ','; quote the value"),
        ("team=~\"(db\"", "invalid regular expression \"(db\""),
        ("team!~\"*\"", "invalid regular expression \"*\""),
        ("team=~\"a)|(b\"", "invalid regular expression"),
    ];
    for (text, expected) in cases {
        let error = Matcher::parse(text).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(expected),
            "{text:?}: {message:?} should contain {expected:?}"
        );
        assert!(
            message.contains(&format!("{text:?}")),
            "{message:?} should name the text"
        );
    }
}

#[test]
fn regex_errors_are_one_line_about_the_users_text() {
    let error = Matcher::parse("team=~\"(db\"").unwrap_err();
    let MatcherError::InvalidRegex { reason, value, .. } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(value, "(db");
    assert_eq!(reason, "unclosed group");
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn new_checks_name_and_regex() {
    assert!(matches!(
        Matcher::new("bad name", MatchOp::Equal, "x"),
        Err(MatcherError::InvalidLabelName { .. })
    ));
    assert!(matches!(
        Matcher::new("team", MatchOp::NotRegex, "[a"),
        Err(MatcherError::InvalidRegex { .. })
    ));
    // Equality values are not regexes.
    assert!(Matcher::new("team", MatchOp::Equal, "[a").is_ok());
}

#[test]
fn display_prints_the_parseable_form() {
    for (text, printed) in [
        ("severity=page", "severity=\"page\""),
        ("team =~ db|api", "team=~\"db|api\""),
        ("env!=\"\"", "env!=\"\""),
        ("x!~\"a\\.b\"", "x!~\"a\\\\.b\""),
        ("msg=\"say \\\"hi\\\"\\n\"", "msg=\"say \\\"hi\\\"\\n\""),
    ] {
        let matcher = Matcher::parse(text).unwrap();
        assert_eq!(matcher.to_string(), printed, "{text}");
        assert_eq!(Matcher::parse(printed).unwrap(), matcher, "{text}");
    }
}

#[test]
fn equality_ignores_the_compiled_regex() {
    let a = Matcher::parse("team=~\"db\"").unwrap();
    let b = Matcher::new("team", MatchOp::Regex, "db").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, Matcher::new("team", MatchOp::NotRegex, "db").unwrap());
    assert_ne!(a, Matcher::new("team", MatchOp::Equal, "db").unwrap());
}

#[test]
fn lists_in_braces() {
    assert_eq!(parse_matchers("{}").unwrap(), Vec::new());
    assert_eq!(parse_matchers("").unwrap(), Vec::new());
    let list = parse_matchers("{a=\"1,2\", b=~\"x|y\",}").unwrap();
    assert_eq!(
        list,
        vec![
            Matcher::new("a", MatchOp::Equal, "1,2").unwrap(),
            Matcher::new("b", MatchOp::Regex, "x|y").unwrap(),
        ]
    );
    let list = parse_matchers("a=\"q\\\"\", b=c").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].value, "q\"");
    assert!(matches!(
        parse_matchers("{a=b"),
        Err(MatcherError::InvalidList { .. })
    ));
    assert!(parse_matchers("{a=b,,c=d}").is_err());
}

fn op_strategy() -> impl Strategy<Value = MatchOp> {
    prop::sample::select(vec![
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::Regex,
        MatchOp::NotRegex,
    ])
}

proptest! {
    #[test]
    fn display_round_trips_through_parse(
        name in "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        op in op_strategy(),
        value in any::<String>(),
    ) {
        // Any value is a valid equality value; regex values must compile.
        if let Ok(matcher) = Matcher::new(&name, op, &value) {
            let printed = matcher.to_string();
            let parsed = Matcher::parse(&printed);
            prop_assert_eq!(parsed.as_ref(), Ok(&matcher), "{}", printed);
            let parsed = parsed.unwrap();
            for probe in [value.as_str(), "", "x"] {
                let labels: Labels = [(name.clone(), probe.to_string())].into_iter().collect();
                prop_assert_eq!(parsed.matches(&labels), matcher.matches(&labels));
            }
        }
    }

    #[test]
    fn equal_and_not_equal_are_complements(
        value in "[a-c]{0,3}",
        label in prop::option::of("[a-c]{0,3}"),
        regex in "[a-c|.*]{0,4}",
    ) {
        let labels: Labels = label.iter().map(|label| ("x".to_string(), label.clone())).collect();
        let equal = Matcher::new("x", MatchOp::Equal, &value).unwrap();
        let not_equal = Matcher::new("x", MatchOp::NotEqual, &value).unwrap();
        prop_assert_ne!(equal.matches(&labels), not_equal.matches(&labels));
        prop_assert_eq!(equal.matches(&labels), label.as_deref().unwrap_or("") == value);
        if let (Ok(matching), Ok(not_matching)) = (
            Matcher::new("x", MatchOp::Regex, &regex),
            Matcher::new("x", MatchOp::NotRegex, &regex),
        ) {
            prop_assert_ne!(matching.matches(&labels), not_matching.matches(&labels));
        }
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = Matcher::parse(&text);
        let _ = parse_matchers(&text);
    }
}
