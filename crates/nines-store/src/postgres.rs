//! The PostgreSQL backend, for several replicas sharing one database.

use crate::{Result, StoreError};

pub struct PostgresStore {}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore> {
        Err(StoreError::Url {
            url: url.to_string(),
            detail: "postgres backend not built yet".to_string(),
        })
    }
}
