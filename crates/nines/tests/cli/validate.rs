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

fn conformance(relative: &str) -> PathBuf {
    repo("../shared/conformance").join(relative)
}

#[test]
fn sloth_validate_cases_pass_and_fail_like_sloth() {
    // Sloth's good folder holds alternative versions of the same SLOs: checked together with
    // Sloth's flag, as Sloth's own suite does.
    let good = conformance("sloth/testdata/validate/good");
    let output = nines()
        .args(["validate", "--ignore-slo-duplicates"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for entry in std::fs::read_dir(&good).unwrap() {
        let path = entry.unwrap().path();
        let output = nines().arg("validate").arg(&path).output().unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut bad: Vec<PathBuf> = std::fs::read_dir(conformance("sloth/testdata/validate/bad"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    bad.push(conformance("sloth/testdata/in-invalid-version.yaml"));
    for path in bad {
        let output = nines().arg("validate").arg(&path).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{} was accepted",
            path.display()
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(": error: "), "{}: {stderr}", path.display());
    }
    // Without the flag, an id defined twice is an error.
    let output = nines()
        .arg("validate")
        .arg(conformance("sloth/testdata/validate_with_duplicates/prom"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("duplicate SLO id"));
}
