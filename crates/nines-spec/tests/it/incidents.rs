//! The `incidents:` section: severity rubric, rules that open incidents, postmortem template.

use nines_spec::{LoadOptions, load_texts};

fn load(files: &[(&str, &str)]) -> nines_spec::Loaded {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    load_texts(&texts, &LoadOptions::default())
}

fn problems(text: &str) -> Vec<String> {
    load(&[("test.yaml", text)])
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn without_a_section_the_rubric_is_sev1_to_sev3_with_definitions() {
    let loaded = load(&[("test.yaml", "version: nines/v1\n")]);
    let rubric = &loaded.catalog.incidents.rubric;
    let ids: Vec<&str> = rubric
        .levels
        .iter()
        .map(|level| level.id.as_str())
        .collect();
    assert_eq!(ids, ["SEV1", "SEV2", "SEV3"]);
    assert!(
        rubric
            .levels
            .iter()
            .all(|level| !level.definition.is_empty())
    );
    assert!(loaded.catalog.incidents.rules.is_empty());
}

#[test]
fn a_team_rubric_rules_and_template_load() {
    let text = r##"version: nines/v1
incidents:
  severities:
    - {id: P1, name: Outage, definition: "Most customers cannot check out"}
    - {id: P2, definition: "A feature is down for some customers"}
  open_for:
    - {matchers: ['alertname="SLOBurnRate"', 'tier=~"1|2"'], severity: p1}
  postmortem_template: "# {{title}}\n{{summary}}\n"
"##;
    let loaded = load(&[("test.yaml", text)]);
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    let config = &loaded.catalog.incidents;
    assert_eq!(config.rubric.levels[0].name, "Outage");
    assert_eq!(
        config.rubric.levels[1].name, "P2",
        "the name defaults to the id"
    );
    assert_eq!(config.rubric.levels[1].rank, 2);
    assert_eq!(
        config.rules[0].severity, "P1",
        "spelled as the rubric spells it"
    );
    let labels = [
        ("alertname".to_string(), "SLOBurnRate".to_string()),
        ("tier".to_string(), "2".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(config.severity_for(&labels), Some("P1"));
    let other = [("alertname".to_string(), "Other".to_string())]
        .into_iter()
        .collect();
    assert_eq!(config.severity_for(&other), None);
    assert_eq!(
        config.postmortem_template.as_deref(),
        Some("# {{title}}\n{{summary}}\n")
    );
    assert_eq!(config.origin.as_ref().map(|o| o.line), Some(2));
}

#[test]
fn bad_incident_configuration_is_located_and_adds_nothing() {
    let got = problems(
        r#"version: nines/v1
incidents:
  severities:
    - {id: SEV1, definition: "outage"}
    - {id: sev1, definition: "again"}
    - {id: "two words", definition: "x"}
    - {id: SEV3, definition: " "}
  open_for:
    - {matchers: [], severity: SEV1}
    - {matchers: ['a=~"("'], severity: SEV9}
"#,
    );
    assert_eq!(got.len(), 6, "{got:#?}");
    let expect = [
        "incidents.severities[1].id: duplicate severity \"sev1\"",
        "incidents.severities[2].id: severity id \"two words\" must be 1 to 32 characters without spaces",
        "incidents.severities[3].definition: write what this severity means",
        "incidents.open_for[0].matchers: a rule needs at least one matcher",
        "incidents.open_for[1].matchers[0]:",
        "incidents.open_for[1].severity: unknown severity \"SEV9\": the rubric has SEV1, SEV3",
    ];
    for needle in expect {
        assert!(
            got.iter().any(|line| line.contains(needle)),
            "{needle} not in {got:#?}"
        );
    }
    let loaded = load(&[(
        "test.yaml",
        "version: nines/v1\nincidents:\n  open_for:\n    - {matchers: ['a=\"b\"'], severity: SEV7}\n",
    )]);
    assert!(loaded.report.has_errors());
    assert!(
        loaded.catalog.incidents.rules.is_empty(),
        "nothing taken from a bad section"
    );
}

#[test]
fn incidents_is_written_once_and_unknown_placeholders_warn() {
    let loaded = load(&[
        (
            "a.yaml",
            "version: nines/v1\nincidents:\n  postmortem_template: \"{{title}} {{blame}}\"\n",
        ),
        ("b.yaml", "version: nines/v1\nincidents: {}\n"),
    ]);
    let lines: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        lines.iter().any(|line| line.contains("b.yaml")
            && line.contains("already written at")
            && line.contains("a.yaml:2")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("warning") && line.contains("{{blame}}")),
        "{lines:#?}"
    );
}
