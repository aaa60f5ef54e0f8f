//! The SQLite backend: one file, the embedded default.

use crate::{Result, StoreError};

pub struct SqliteStore {}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore> {
        Err(StoreError::Url {
            url: url.to_string(),
            detail: "sqlite backend not built yet".to_string(),
        })
    }
}
