//! `nines simulate` end to end: the workbook's numbers from the example scenarios.

use std::path::PathBuf;
use std::process::Command;

fn simulate(scenario: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/scenarios")
        .join(scenario);
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(["simulate", "--output", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn transitions<'a>(
    report: &'a serde_json::Value,
    severity: &str,
    change: &str,
) -> Vec<&'a serde_json::Value> {
    report["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["severity"] == severity && t["change"] == change && t["alert"] == "burn_rate")
        .collect()
}

#[test]
fn a_full_outage_pages_after_about_52_seconds() {
    let report = simulate("workbook-full-outage.yaml");
    let pages = transitions(&report, "page", "fired");
    assert_eq!(pages.len(), 1, "{report:#}");
    assert_eq!(pages[0]["phase"], "outage");
    // 0.0144 * 3600 s = 51.84 s of errors; evaluated every second, it fires at the 52nd.
    assert_eq!(pages[0]["phase_offset_seconds"], 52);
    let fired_pair = pages[0]["burn_rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["fires"] == true)
        .unwrap();
    assert_eq!(fired_pair["long_window"], "1h");
    assert!((fired_pair["factor"].as_f64().unwrap() - 14.4).abs() < 1e-9);
    // Ten minutes of a 99.9% SLO's 43.2-minute monthly budget.
    let outage = &report["phases"][1];
    assert!(
        (outage["budget_spent_share"].as_f64().unwrap() - 10.0 / 43.2).abs() < 0.002,
        "{outage}"
    );
}

#[test]
fn a_steady_burn_rate_of_two_raises_a_ticket_and_never_pages() {
    let report = simulate("workbook-slow-burn.yaml");
    assert!(
        transitions(&report, "page", "fired").is_empty(),
        "{report:#}"
    );
    let tickets = transitions(&report, "ticket", "fired");
    assert_eq!(tickets.len(), 1, "{report:#}");
    let fired_pair = tickets[0]["burn_rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["fires"] == true)
        .unwrap();
    assert_eq!(fired_pair["long_window"], "3d");
}

#[test]
fn a_scenario_with_mistakes_is_refused_with_their_places() {
    let folder = std::env::temp_dir().join(format!("nines-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("bad.yaml");
    std::fs::write(&path, "version: nines/v1\nscenario: x\nslo: {objective_percent: 99.9, window: 30d}\nrequests_per_second: 10\nphases: [{duration: 1h, error_percent: 120}]\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .arg("simulate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml:5:")
            && stderr.contains("phases[0].error_percent: error_percent must be between 0 and 100"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn an_unacknowledged_page_escalates_through_its_steps_until_acknowledged() {
    let report = simulate("outage-paging.yaml");
    let paging = &report["paging"];
    assert_eq!(paging["policy"], "checkout", "{paging:#}");
    let steps: Vec<(i64, String, String)> = paging["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["offset_seconds"].as_i64().unwrap(),
                step["what"].as_str().unwrap().to_string(),
                step["person"]
                    .as_str()
                    .or(step["by"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let opened = steps[0].0;
    let page = transitions(&report, "page", "fired")[0]["offset_seconds"]
        .as_i64()
        .unwrap();
    assert_eq!(opened, page, "the page opens when the alert fires");
    let relative: Vec<(i64, &str, &str)> = steps
        .iter()
        .map(|(at, what, who)| (at - opened, what.as_str(), who.as_str()))
        .collect();
    // Wednesday 2026-01-07: week 1 of the rotation that began Monday 2026-01-05 (alice
    // primary, bob secondary); the team after ten minutes; dana acknowledges at 12 minutes.
    assert_eq!(
        relative[..8],
        [
            (0, "opened", ""),
            (0, "notified", "alice"),
            (300, "notified", "bob"),
            (600, "notified", "alice"),
            (600, "notified", "bob"),
            (600, "notified", "carol"),
            (600, "notified", "dana"),
            (720, "acknowledged", "dana"),
        ],
        "{paging:#}"
    );
    assert_eq!(relative[8].1, "resolved", "{paging:#}");
    assert_eq!(
        relative.len(),
        9,
        "no escalation after the acknowledgement: {paging:#}"
    );
    let via: Vec<&str> = paging["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["via"].as_str())
        .collect();
    assert_eq!(
        via[..3],
        ["schedule:primary", "schedule:secondary", "team:checkout"]
    );
}
