//! A small W3C WebDriver client over reqwest for the browser tests: starts `chromedriver` as a
//! child process, drives Debian's headless Chromium through one session, and closes both when
//! dropped. WebDriver errors come back as [`Error`]s naming the command, the driver's message
//! and the page the browser was on.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, TempDir, find_in_path, free_port, skip_or_fail};

/// Debian's Chromium (package `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The key under which WebDriver hands out element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver's key codes for Tab and Enter.
pub(crate) const TAB: &str = "\u{E004}";
pub(crate) const ENTER: &str = "\u{E007}";

/// How often [`Browser::wait_for`] and [`Browser::wait_until`] look again.
const POLL: Duration = Duration::from_millis(200);

/// What went wrong, in words a failing test can print as it is.
pub(crate) struct Error {
    /// The command, `POST /element {"using":"css selector","value":"#slo-list"}`.
    context: String,
    /// The WebDriver error code and message, or the transport's error.
    message: String,
    /// Where the browser was when it happened, when that could be asked.
    page_url: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.message)?;
        if let Some(url) = &self.page_url {
            write!(f, " (page {url})")?;
        }
        Ok(())
    }
}

/// The same as `Display`, so `?` out of a test prints a readable message.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Also for a test's own "not yet" inside [`Browser::wait_until`], so a timeout says what
    /// was seen last.
    pub(crate) fn new(context: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            context: context.into(),
            message: message.into(),
            page_url: None,
        }
    }
}

/// One Chromium session behind its own chromedriver.
pub(crate) struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:{port}`, chromedriver's address.
    driver_url: String,
    session_id: String,
    /// Declared before the profile so the driver is killed before its folder is removed.
    _driver: Process,
    _profile: TempDir,
}

/// An element found on the current page; stale once the page changes.
pub(crate) struct Element<'a> {
    browser: &'a Browser,
    id: String,
    /// How it was found, for error messages.
    css: String,
}

impl Browser {
    /// chromedriver on a free port and a headless Chromium session (1280x900), or None when
    /// either program is missing (which skips loudly locally and fails under CI=true).
    pub(crate) async fn launch() -> Result<Option<Browser>, Error> {
        let Some(chromedriver) = find_in_path("chromedriver") else {
            skip_or_fail("chromedriver");
            return Ok(None);
        };
        if !Path::new(CHROMIUM).is_file() {
            skip_or_fail(CHROMIUM);
            return Ok(None);
        }
        let port = free_port();
        let mut command = Command::new(chromedriver);
        command.arg(format!("--port={port}"));
        let driver = Process::spawn("chromedriver", command);
        let profile = TempDir::new("chromium-profile");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| Error::new("building the http client", err.to_string()))?;
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&http, &driver_url, &driver).await?;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": chromium_args(profile.path()),
                    },
                },
            },
        });
        let created = send(
            &http,
            reqwest::Method::POST,
            &format!("{driver_url}/session"),
            Some(&capabilities),
        )
        .await
        .map_err(|message| {
            Error::new(
                "POST /session",
                format!("{message}\nchromedriver said:\n{}", driver.log()),
            )
        })?;
        let Some(session_id) = created["sessionId"].as_str() else {
            return Err(Error::new(
                "POST /session",
                format!("no sessionId in the answer: {created}"),
            ));
        };
        Ok(Some(Browser {
            http,
            session_id: session_id.to_string(),
            driver_url,
            _driver: driver,
            _profile: profile,
        }))
    }

    /// Opens `url` and waits for it to load.
    pub(crate) async fn goto(&self, url: &str) -> Result<(), Error> {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    /// The first element matching `css`; an error naming the selector when there is none.
    pub(crate) async fn find(&self, css: &str) -> Result<Element<'_>, Error> {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(css_query(css)))
            .await?;
        self.element(&found, css)
    }

    /// Every element matching `css`, in document order (none is not an error).
    pub(crate) async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, Error> {
        let found = self
            .command(reqwest::Method::POST, "/elements", Some(css_query(css)))
            .await?;
        self.elements(&found, css)
    }

    /// The first element matching `css`, looking again until it appears or `timeout` passes.
    pub(crate) async fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
    ) -> Result<Element<'_>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut found = self.find_all(css).await?;
            if !found.is_empty() {
                return Ok(found.swap_remove(0));
            }
            if Instant::now() >= deadline {
                return Err(self
                    .with_page_url(Error::new(
                        format!("waiting for {css:?}"),
                        format!("no element matched within {timeout:?}"),
                    ))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `check` until it returns `Some`, or `timeout` passes. An error from `check` counts
    /// as "not yet" (a page may be reloading), and the last one is reported on timeout.
    pub(crate) async fn wait_until<T>(
        &self,
        description: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut(&Browser) -> Result<Option<T>, Error>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match check(self).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(err) => last_error = Some(err),
            }
            if Instant::now() >= deadline {
                let last = last_error.map_or_else(
                    || "the condition never held".to_string(),
                    |err| format!("last error: {err}"),
                );
                return Err(self
                    .with_page_url(Error::new(
                        format!("waiting until {description}"),
                        format!("timed out after {timeout:?}; {last}"),
                    ))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page and returns
    /// what it returns. Elements may be passed with [`Element::to_json`].
    pub(crate) async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Presses and releases one key (a WebDriver key code such as [`TAB`] or [`ENTER`]) on
    /// whatever has the focus, as a person at the keyboard does.
    pub(crate) async fn press(&self, key: &str) -> Result<(), Error> {
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{
                "type": "key",
                "id": "keyboard",
                "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
            }]})),
        )
        .await
        .map(drop)
    }

    /// Whether the focused element matches `css`.
    pub(crate) async fn focused_matches(&self, css: &str) -> Result<bool, Error> {
        let matches = self
            .execute(
                "const e = document.activeElement; return !!e && e.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await?;
        Ok(matches == Value::Bool(true))
    }

    pub(crate) async fn current_url(&self) -> Result<String, Error> {
        let url = self.command(reqwest::Method::GET, "/url", None).await?;
        string(url, "GET /url")
    }

    /// The page's HTML as the browser has it now.
    pub(crate) async fn source(&self) -> Result<String, Error> {
        let source = self.command(reqwest::Method::GET, "/source", None).await?;
        string(source, "GET /source")
    }

    /// Saves a PNG of the viewport to `path`.
    pub(crate) async fn screenshot_png(&self, path: &Path) -> Result<(), Error> {
        use base64::Engine;
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await?;
        let encoded = string(encoded, "GET /screenshot")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|err| Error::new("decoding the screenshot", err.to_string()))?;
        std::fs::write(path, png)
            .map_err(|err| Error::new(format!("writing {}", path.display()), err.to_string()))
    }

    /// Resizes the window (headless Chromium still keeps room for its toolbars: the viewport
    /// of a 1280x900 window is 1280x757).
    pub(crate) async fn set_window_size(&self, width: u32, height: u32) -> Result<(), Error> {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await
        .map(drop)
    }

    /// Resizes the window so the page's viewport is `width` x `height` CSS pixels, as on a
    /// screen of that size (a phone's 390x844).
    pub(crate) async fn set_viewport_size(&self, width: u32, height: u32) -> Result<(), Error> {
        self.set_window_size(width, height).await?;
        let inner = self
            .execute(
                "return [window.innerWidth, window.innerHeight];",
                Vec::new(),
            )
            .await?;
        let (Some(inner_width), Some(inner_height)) = (inner[0].as_u64(), inner[1].as_u64()) else {
            return Err(Error::new(
                "measuring the viewport",
                format!("not two numbers: {inner}"),
            ));
        };
        let frame_width = u64::from(width).saturating_sub(inner_width);
        let frame_height = u64::from(height).saturating_sub(inner_height);
        if frame_width == 0 && frame_height == 0 {
            return Ok(());
        }
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({
                "width": u64::from(width) + frame_width,
                "height": u64::from(height) + frame_height,
            })),
        )
        .await
        .map(drop)
    }

    fn element(&self, found: &Value, css: &str) -> Result<Element<'_>, Error> {
        let Some(id) = found[ELEMENT_KEY].as_str() else {
            return Err(Error::new(
                format!("finding {css:?}"),
                format!("no element reference in the answer: {found}"),
            ));
        };
        Ok(Element {
            browser: self,
            id: id.to_string(),
            css: css.to_string(),
        })
    }

    fn elements(&self, found: &Value, css: &str) -> Result<Vec<Element<'_>>, Error> {
        let Some(list) = found.as_array() else {
            return Err(Error::new(
                format!("finding every {css:?}"),
                format!("the answer is not a list: {found}"),
            ));
        };
        list.iter().map(|one| self.element(one, css)).collect()
    }

    /// Sends one command of this session (`path` after `/session/{id}`) and returns its
    /// `value`; a WebDriver error becomes an [`Error`] with the page's URL.
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let url = format!("{}/session/{}{path}", self.driver_url, self.session_id);
        match send(&self.http, method.clone(), &url, body.as_ref()).await {
            Ok(value) => Ok(value),
            Err(message) => {
                let context = match &body {
                    Some(body) => format!("{method} {path} {body}"),
                    None => format!("{method} {path}"),
                };
                Err(self.with_page_url(Error::new(context, message)).await)
            }
        }
    }

    /// Adds where the browser is to `error`, when the driver still answers.
    async fn with_page_url(&self, mut error: Error) -> Error {
        let url = format!("{}/session/{}/url", self.driver_url, self.session_id);
        if let Ok(Value::String(page_url)) =
            send(&self.http, reqwest::Method::GET, &url, None).await
        {
            error.page_url = Some(page_url);
        }
        error
    }
}

impl Drop for Browser {
    /// Ends the session, so chromedriver quits Chromium (killing only chromedriver would leave
    /// Chromium running), then the driver is killed and the profile folder removed. Blocking,
    /// and over a plain socket, since `Drop` cannot await.
    fn drop(&mut self) {
        let address = self.driver_url.trim_start_matches("http://");
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.session_id
        );
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
    }
}

impl Element<'_> {
    /// Clicks it, and waits for a navigation that the click started.
    pub(crate) async fn click(&self) -> Result<(), Error> {
        self.command(reqwest::Method::POST, "/click", Some(json!({})))
            .await
            .map(drop)
    }

    /// Clicks it and waits until the page the click leads to (a link, a form's submit button)
    /// has loaded. A plain click returns once the click is dispatched, so reading the page
    /// right after it could read the old page.
    pub(crate) async fn click_and_wait_for_page(&self, timeout: Duration) -> Result<(), Error> {
        // Every document has its own window object, so the mark is gone once the next one is.
        self.browser
            .execute("window.__ninesOldPage = true;", Vec::new())
            .await?;
        self.click().await?;
        self.browser
            .wait_until(
                &format!("the page after clicking {:?} has loaded", self.css),
                timeout,
                async |browser| {
                    let loaded = browser
                        .execute(
                            "return document.readyState === 'complete' && !window.__ninesOldPage;",
                            Vec::new(),
                        )
                        .await?;
                    Ok((loaded == true).then_some(()))
                },
            )
            .await
    }

    /// Its rendered text (what a reader sees, whitespace collapsed).
    pub(crate) async fn text(&self) -> Result<String, Error> {
        let text = self.command(reqwest::Method::GET, "/text", None).await?;
        string(text, &format!("text of {:?}", self.css))
    }

    /// An attribute as written in the HTML (`data-status`); None when absent. What a user
    /// typed is a property: see [`Element::property`].
    pub(crate) async fn attr(&self, name: &str) -> Result<Option<String>, Error> {
        let value = self
            .command(reqwest::Method::GET, &format!("/attribute/{name}"), None)
            .await?;
        Ok(match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        })
    }

    /// A DOM property (`value` of an input after typing); None when undefined or null.
    pub(crate) async fn property(&self, name: &str) -> Result<Option<String>, Error> {
        let value = self
            .command(reqwest::Method::GET, &format!("/property/{name}"), None)
            .await?;
        Ok(match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        })
    }

    /// Whether a checkbox, radio button or option is selected.
    pub(crate) async fn selected(&self) -> Result<bool, Error> {
        let value = self
            .command(reqwest::Method::GET, "/selected", None)
            .await?;
        value.as_bool().ok_or_else(|| {
            Error::new(
                format!("selected state of {:?}", self.css),
                format!("not a boolean: {value}"),
            )
        })
    }

    /// Types `text` into it.
    pub(crate) async fn send_keys(&self, text: &str) -> Result<(), Error> {
        self.command(
            reqwest::Method::POST,
            "/value",
            Some(json!({ "text": text })),
        )
        .await
        .map(drop)
    }

    /// The first element inside this one matching `css`.
    pub(crate) async fn find(&self, css: &str) -> Result<Element<'_>, Error> {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(css_query(css)))
            .await?;
        self.browser.element(&found, &format!("{} {css}", self.css))
    }

    /// Every element inside this one matching `css`.
    pub(crate) async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, Error> {
        let found = self
            .command(reqwest::Method::POST, "/elements", Some(css_query(css)))
            .await?;
        self.browser
            .elements(&found, &format!("{} {css}", self.css))
    }

    /// The reference to pass this element to [`Browser::execute`].
    pub(crate) fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        self.browser
            .command(method, &format!("/element/{}{path}", self.id), body)
            .await
            .map_err(|mut err| {
                err.context = format!("{} (element {:?})", err.context, self.css);
                err
            })
    }
}

/// The flags this machine's Chromium needs: headless as root, and no background connections
/// (the closed network refuses them, many at a time).
fn chromium_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

fn css_query(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn string(value: Value, what: &str) -> Result<String, Error> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(Error::new(what, format!("not a string: {other}"))),
    }
}

/// Polls chromedriver's `/status` until it says ready (at most 20 s).
async fn wait_until_ready(
    http: &reqwest::Client,
    driver_url: &str,
    driver: &Process,
) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = send(
            http,
            reqwest::Method::GET,
            &format!("{driver_url}/status"),
            None,
        )
        .await;
        match status {
            Ok(value) if value["ready"] == true => return Ok(()),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(value) => {
                return Err(Error::new(
                    "GET /status",
                    format!("chromedriver not ready after 20s: {value}"),
                ));
            }
            Err(message) => {
                return Err(Error::new(
                    "GET /status",
                    format!("{message}\nchromedriver said:\n{}", driver.log()),
                ));
            }
        }
    }
}

/// One WebDriver request; the answer's `value`, or the error's code and message.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|err| err.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|err| err.to_string())?;
    let answer: Value =
        serde_json::from_str(&text).map_err(|err| format!("{status}: not JSON ({err}): {text}"))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let code = value["error"].as_str().unwrap_or("unknown error");
    let message = value["message"].as_str().unwrap_or("");
    // chromedriver's messages carry a native stack trace after the first lines.
    let message: String = message
        .lines()
        .take_while(|line| !line.trim_start().starts_with("Stacktrace:"))
        .collect::<Vec<_>>()
        .join("\n");
    // chromedriver's messages usually start with the code already.
    if message.starts_with(code) {
        Err(message)
    } else {
        Err(format!("{code}: {message}"))
    }
}
