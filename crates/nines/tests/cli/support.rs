//! Helpers the end-to-end tests share: temporary folders, child processes killed on drop, free
//! loopback ports, and the rule that a missing peer binary skips locally but fails in CI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A folder removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "nines-peers-{name}-{}-{unique}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed (SIGKILL) and reaped when dropped, so no test path leaves it
/// running. Its stderr is collected by a thread, line by line, into `log` and `lines`.
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    log: Arc<Mutex<String>>,
    lines: Receiver<String>,
}

impl Process {
    pub(crate) fn spawn(name: &'static str, mut command: Command) -> Process {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = std::sync::mpsc::channel();
        let thread_log = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut log) = thread_log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
                let _ = sender.send(line);
            }
        });
        Process {
            name,
            child,
            log,
            lines,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The first stderr line for which `pick` returns something, within `timeout`.
    pub(crate) async fn wait_for_line<T>(
        &mut self,
        timeout: Duration,
        pick: impl Fn(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lines.try_recv() {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return found;
                    }
                }
                Err(TryRecvError::Empty) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        // Let the stderr thread catch up, so the log says why.
                        std::thread::sleep(Duration::from_millis(200));
                        panic!("{} exited ({status}):\n{}", self.name, self.log());
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{} did not log what was awaited within {timeout:?}:\n{}",
                        self.name,
                        self.log()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TryRecvError::Disconnected) => {
                    panic!("{} closed stderr:\n{}", self.name, self.log())
                }
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn find_in_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(binary))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

pub(crate) fn skip_or_fail(binary: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{binary} not found on PATH, and CI=true requires it (.ci/run installs it)"
    );
    eprintln!("\n\n==== SKIPPED: {binary} not found on PATH; the test did not run ====\n\n");
}

/// GETs `url` and reads its JSON; anything but a 2xx with JSON fails the test, saying what came.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let status = response.status();
    let body = response.text().await.expect("response body");
    assert!(status.is_success(), "GET {url}: {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {url}: {err}: {body}"))
}
