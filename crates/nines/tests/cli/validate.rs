//! `nines validate` end to end: the real binary on real files.

use std::path::PathBuf;
use std::process::Command;

fn nines() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nines"))
}

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

#[test]
fn the_examples_validate() {
    let output = nines()
        .arg("validate")
        .arg(repo("examples"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("ok: 4 SLOs and 2 services"), "{stdout}");
}

#[test]
fn every_problem_is_reported_with_its_place_and_the_exit_code_says_so() {
    let folder = std::env::temp_dir().join(format!("nines-validate-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.yaml"), "version: nines/v1\nservices: [{id: api, runbooks: [https://r/api]}]\nslos:\n  - id: x\n    service: api\n    objective_percent: 0\n    window: 30d\n    sli: {pushed: {}}\n").unwrap();
    std::fs::write(folder.join("b.yml"), "version: nines/v1\nslos: [{id: y, service: nope, objective_percent: 99, window: 30d, sli: {pushed: {}}}]\n").unwrap();
    std::fs::write(folder.join("c.yaml"), "version: [\n").unwrap();

    let output = nines().arg("validate").arg(&folder).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let a = folder.join("a.yaml").display().to_string();
    let b = folder.join("b.yml").display().to_string();
    let c = folder.join("c.yaml").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{a}:6:5: error: slos[0].objective_percent: objective_percent 0"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{b}:2:")), "{stderr}");
    assert!(
        stderr.contains("service \"nope\" is not defined in any file"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{c}:2:1: error: invalid YAML")),
        "{stderr}"
    );
    assert!(stderr.contains("3 errors"), "{stderr}");

    let output = nines()
        .args(["validate", "--output", "json"])
        .arg(&folder)
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["valid"], false);
    assert_eq!(body["errors"], 3);
    assert_eq!(body["problems"][0]["line"], 6);
    std::fs::remove_dir_all(&folder).unwrap();
}
