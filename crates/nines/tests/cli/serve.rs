//! `nines serve` refuses an invalid configuration with the validator's full report, before it
//! touches the store.

use std::process::Command;

#[test]
fn an_invalid_config_stops_serve_before_the_store_is_opened() {
    let folder = std::env::temp_dir().join(format!("nines-serve-invalid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("bad.yaml");
    std::fs::write(&config, "version: nines/v1\nslos:\n  - id: x\n    service: nope\n    objective_percent: 100\n    window: 30d\n    sli: {pushed: {}}\n").unwrap();
    let database = folder.join("nines.db");
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--database")
        .arg(format!("sqlite://{}", database.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml:5:5: error: slos[0].objective_percent"),
        "{stderr}"
    );
    assert!(stderr.contains("the store was not opened"), "{stderr}");
    assert!(!database.exists(), "the database file was created");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn a_missing_channel_secret_stops_serve_before_the_store_is_opened() {
    let folder = std::env::temp_dir().join(format!("nines-serve-secret-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let examples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let database = folder.join("nines.db");
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&examples)
        .arg("--database")
        .arg(format!("sqlite://{}", database.display()))
        .env_remove("NINES_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("secret environment variable NINES_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
    assert!(!database.exists());
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn missing_slack_email_and_pagerduty_secrets_are_named_before_the_store_is_opened() {
    let folder = std::env::temp_dir().join(format!("nines-serve-channels-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let config = folder.join("channels.yaml");
    std::fs::write(
        &config,
        "version: nines/v1\nchannels:\n  - id: chat\n    type: slack\n    url_env: NINES_TEST_SLACK_URL\n  - id: mail\n    type: email\n    smtp: {host: 127.0.0.1, username: nines, password_env: NINES_TEST_SMTP_PASSWORD}\n    from: nines@example.com\n  - id: pd\n    type: pagerduty\n    routing_key_env: NINES_TEST_PD_KEY\n",
    )
    .unwrap();
    let database = folder.join("nines.db");
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--database")
        .arg(format!("sqlite://{}", database.display()))
        .env_remove("NINES_TEST_SLACK_URL")
        .env_remove("NINES_TEST_SMTP_PASSWORD")
        .env("NINES_TEST_PD_KEY", "")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "channels.yaml:3: channel \"chat\": secret environment variable NINES_TEST_SLACK_URL is not set",
        "channels.yaml:6: channel \"mail\": secret environment variable NINES_TEST_SMTP_PASSWORD is not set",
        "channels.yaml:10: channel \"pd\": secret environment variable NINES_TEST_PD_KEY is not set",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert!(!database.exists());
    std::fs::remove_dir_all(&folder).unwrap();
}
