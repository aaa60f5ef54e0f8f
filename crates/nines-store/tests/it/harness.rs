//! Runs one conformance test on one backend: a store on a fresh SQLite file or in a fresh
//! PostgreSQL schema, handed to the test as a `Ctx`, cleaned up afterwards.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nines_store::Store;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a conformance test gets: an open store and the URL it was opened from.
pub struct Ctx {
    pub backend: Backend,
    pub url: String,
    pub store: Arc<dyn Store>,
}

impl Ctx {
    /// Drops this store and opens the same database again, as a restart would.
    pub async fn reopen(self) -> Ctx {
        let Ctx {
            backend,
            url,
            store,
        } = self;
        drop(store);
        let store = nines_store::open(&url).await.expect("reopen the store");
        Ctx {
            backend,
            url,
            store,
        }
    }
}

const PG_URL_VAR: &str = "NINES_TEST_PG_URL";

/// A name no other test of any run uses: process id, a counter and the clock.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A temporary folder removed when the test ends (also when it panics).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = TempDir(std::env::temp_dir().join(unique_name("nines_store_test")));
            std::fs::create_dir_all(&dir.0).expect("create a temporary folder");
            let url = format!("sqlite://{}", dir.0.join("nines.db").display());
            let store = nines_store::open(&url).await.expect("open sqlite store");
            test(Ctx {
                backend,
                url,
                store,
            })
            .await;
        }
        Backend::Postgres => {
            let Some(base_url) = postgres_url() else {
                return;
            };
            let schema = unique_name("nines_test");
            let mut admin = PgConnection::connect(&base_url)
                .await
                .expect("connect to NINES_TEST_PG_URL");
            // The name is ours (letters, digits, underscores), not input.
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut admin)
                .await
                .expect("create test schema");
            let separator = if base_url.contains('?') { '&' } else { '?' };
            let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
            let store = nines_store::open(&url).await.expect("open postgres store");
            test(Ctx {
                backend,
                url,
                store,
            })
            .await;
            sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .expect("drop test schema");
        }
    }
}

/// The PostgreSQL URL to test against; `None` (after saying so) when the half is skipped.
fn postgres_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!(
                    "{PG_URL_VAR} is not set but CI=true: the PostgreSQL half of the store suite \
                     must run in CI (.ci/run starts a PostgreSQL and sets it)"
                );
            }
            // Straight to the process's stderr: the test harness captures `eprintln!` of
            // passing tests, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {PG_URL_VAR} not set, PostgreSQL half of the store suite did not run"
            );
            None
        }
    }
}

/// A one-minute count delta.
pub fn delta(slo_id: &str, minute: i64, counted: i64, total: i64) -> nines_store::CountDelta {
    nines_store::CountDelta {
        slo_id: slo_id.to_string(),
        minute,
        counted,
        total,
    }
}

/// An event of the evaluator with a small JSON payload.
pub fn event(at_ms: i64, kind: &str, slo_id: Option<&str>) -> nines_store::EventRow {
    nines_store::EventRow {
        id: 0,
        at_ms,
        kind: kind.to_string(),
        slo_id: slo_id.map(str::to_string),
        page_id: None,
        incident_id: None,
        actor: "evaluator".to_string(),
        payload: format!(r#"{{"at":{at_ms}}}"#),
    }
}

/// A notification due at `created_ms`, never tried.
pub fn message(key: &str, created_ms: i64) -> nines_store::OutboxRow {
    nines_store::OutboxRow {
        id: 0,
        idempotency_key: key.to_string(),
        channel: "ops-webhook".to_string(),
        payload: format!(r#"{{"key":"{key}"}}"#),
        created_ms,
        attempts: 0,
        next_attempt_ms: created_ms,
        delivered_ms: None,
        last_error: None,
    }
}

/// An alert state row.
pub fn alert(slo_id: &str, kind: &str, state: &str, since_ms: i64) -> nines_store::AlertStateRow {
    nines_store::AlertStateRow {
        slo_id: slo_id.to_string(),
        kind: kind.to_string(),
        state: state.to_string(),
        severity: "page".to_string(),
        since_ms,
    }
}
