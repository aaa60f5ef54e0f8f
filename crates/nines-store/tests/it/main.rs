//! The store conformance suite: one set of test functions, run against SQLite (a temporary
//! file) and PostgreSQL (a fresh schema per test at `NINES_TEST_PG_URL`).
//!
//! Each module lists its tests in `conformance!`, which makes a `sqlite::NAME` and a
//! `postgres::NAME` test of every one. Without `NINES_TEST_PG_URL` the PostgreSQL half skips
//! loudly, or fails when `CI=true`.

/// Makes a `sqlite` and a `postgres` test module with one test per named conformance function
/// (an `async fn(Ctx)` in the calling module).
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::harness::run(crate::harness::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::harness::run(crate::harness::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

mod counts;
mod events;
mod harness;
mod incidents;
mod intake;
mod lifecycle;
mod oncall;
mod outbox;
mod paging;
mod pull;
mod slos;
mod snapshots;
mod transitions;
