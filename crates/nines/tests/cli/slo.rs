//! `nines slo list` and `nines slo show` against a running `nines serve`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server on every path out of the test.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nines() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nines"))
}

#[test]
fn slo_list_and_show_read_a_running_server() {
    let folder = std::env::temp_dir().join(format!("nines-slo-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let examples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut child = nines()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--evaluation-interval",
            "1s",
            "--config",
        ])
        .arg(examples.join("services.yaml"))
        .arg("--config")
        // The source the `search` service's signals name.
        .arg(examples.join("sources.yaml"))
        .arg("--config")
        .arg(examples.join("slos.yaml"))
        .arg("--config")
        .arg(examples.join("policies.yaml"))
        .arg("--database")
        .arg(format!("sqlite://{}", folder.join("nines.db").display()))
        .env("NINES_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _server = Server(child);
    // The address is logged once the server listens.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut address = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            address = rest.split_whitespace().next().map(str::to_string);
            break;
        }
        assert!(Instant::now() < deadline, "no address logged");
    }
    let server = format!("http://{}", address.expect("the server logs its address"));

    let output = nines()
        .args(["slo", "list", "--server", &server])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.starts_with("SLO "), "{table}");
    assert!(table.contains("checkout-availability  checkout"), "{table}");
    assert!(table.contains("rolling 30d"), "{table}");

    let output = nines()
        .args([
            "slo",
            "list",
            "--server",
            &server,
            "--output",
            "json",
            "--service",
            "search",
        ])
        .output()
        .unwrap();
    let slos: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(slos.as_array().unwrap().len(), 1);
    assert_eq!(slos[0]["id"], "search-availability");

    let output = nines()
        .args(["slo", "show", "checkout-latency", "--server", &server])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("objective:    99% over month (Europe/Berlin)"),
        "{text}"
    );
    assert!(text.contains("SEVERITY  WINDOWS"), "{text}");

    let output = nines()
        .args(["slo", "show", "nope", "--server", &server])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown SLO id \"nope\""));
    let _ = std::fs::remove_dir_all(&folder);
}
