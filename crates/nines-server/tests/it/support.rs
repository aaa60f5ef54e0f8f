//! A server under test: started on a free loopback port with a temporary SQLite file.

use std::path::PathBuf;
use std::time::Duration;

use nines_server::server::{self, Running, ServerConfig};

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub client: reqwest::Client,
}

pub fn folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("nines-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

impl TestServer {
    /// Starts the server on the spec `text` and the SQLite file in `folder`.
    pub async fn start(folder: &std::path::Path, text: &str) -> TestServer {
        TestServer::start_with(folder, text, |_, _| {}).await
    }

    /// Like [`TestServer::start`], with the server's configuration and the loaded catalog
    /// changed by `tweak` (for times shorter than validation allows, so tests run in seconds).
    pub async fn start_with(
        folder: &std::path::Path,
        text: &str,
        tweak: impl FnOnce(&mut ServerConfig, &mut nines_spec::Catalog),
    ) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config_path = folder.join("config.yaml");
        std::fs::write(&config_path, text).unwrap();
        let mut loaded = nines_spec::load(&[config_path], &nines_spec::LoadOptions::default());
        assert!(!loaded.report.has_errors(), "{}", loaded.report);
        let store = nines_store::open(&format!("sqlite://{}", folder.join("nines.db").display()))
            .await
            .unwrap();
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            evaluation_interval: Duration::from_millis(200),
            max_body_bytes: 64 * 1024,
            environment: [("TEST_SECRET".to_string(), "s3cret".to_string())]
                .into_iter()
                .collect(),
            ..ServerConfig::default()
        };
        tweak(&mut config, &mut loaded.catalog);
        let running = server::start(loaded.catalog, store, config).await.unwrap();
        let base = format!("http://{}", running.address);
        TestServer {
            running: Some(running),
            base,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.post(path, "application/json", body.to_string().into_bytes(), &[])
            .await
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}
