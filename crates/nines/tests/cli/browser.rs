//! The web UI in real headless Chromium, against `nines demo` as a real process: the demo's
//! outage shows on the SLO page's charts, its page is acknowledged from the pages list, and the
//! incident the page opened publishes a status update onto the public status page (and an
//! update not ticked public stays off it); then the page is resolved with the keyboard alone
//! (Tab to its button, Enter). With `NINES_SCREENSHOTS=folder` the same run saves
//! the README's screenshots (1280x900 viewport, and the SLO page at a phone's 390x844).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Process, TempDir, client, free_port, get_json};
use crate::webdriver::{Browser, ENTER, Error, TAB};

const UPDATE_TEXT: &str = "We are investigating failed checkouts";

/// An update not ticked public: it must never reach the status page.
const INTERNAL_TEXT: &str = "Internal: rolling back checkout deploy 4711";

/// Status page vocabulary (`data-status`) other than `operational`.
const NOT_OPERATIONAL: [&str; 4] = [
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];

/// How long a click's page may take to load.
const LOAD: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One test function for the whole walk, so Chromium and the demo start once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_outage_is_charted_acknowledged_and_published_in_the_browser() -> TestResult {
    let Some(browser) = Browser::launch().await? else {
        return Ok(());
    };
    let folder = TempDir::new("browser-demo");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_nines"));
    command
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        // --duration only bounds an orphaned demo; the test kills it when done.
        .args(["--outage-after", "5s", "--duration", "15m"])
        // The demo's config and SQLite file go into the test's folder, removed on drop.
        .env("TMPDIR", folder.path());
    let demo = Process::spawn("nines demo", command);
    let http = client();
    poll_json(
        &http,
        &format!("{base}/healthz"),
        Duration::from_secs(60),
        &demo,
        |body| (body["status"] == "ok").then_some(()),
    )
    .await;

    // a. The outage pages; the SLO page's charts show it.
    let page_id = poll_json(
        &http,
        &format!("{base}/api/v1/pages?status=triggered"),
        Duration::from_secs(150),
        &demo,
        |body| {
            let pages = body["pages"].as_array()?;
            let page = pages.iter().find(|page| page["service"] == "checkout")?;
            page["id"].as_str().map(str::to_string)
        },
    )
    .await;
    let slo_url = format!("{base}/ui/slos/checkout-availability");
    browser
        .wait_until(
            "a page burn-rate chart is over its threshold with an alert marker",
            Duration::from_secs(60),
            async |browser| {
                browser.goto(&slo_url).await?;
                let charts = browser
                    .find_all(r#"svg.chart.chart-burn-rate[data-severity="page"]"#)
                    .await?;
                let mut seen = Vec::new();
                for chart in &charts {
                    let over = chart.attr("data-over-threshold").await?;
                    let markers = chart.find_all(".marker.marker-alert-fired").await?.len();
                    // Drawn, not only present: a chart of no size shows nobody the outage.
                    let width = browser
                        .execute(
                            "return arguments[0].getBoundingClientRect().width;",
                            vec![chart.to_json()],
                        )
                        .await?
                        .as_f64()
                        .unwrap_or(0.0);
                    if over.as_deref() == Some("true") && markers > 0 && width > 0.0 {
                        return Ok(Some(()));
                    }
                    seen.push(format!(
                        "over={over:?} alert markers={markers} width={width}"
                    ));
                }
                Err(Error::new(
                    "page burn-rate charts",
                    format!(
                        "{} chart(s): [{}]; {}",
                        charts.len(),
                        seen.join("; "),
                        shown(browser).await
                    ),
                ))
            },
        )
        .await?;
    let burn_down = browser.find("svg.chart.chart-burn-down").await?;
    let min_remaining = burn_down.attr("data-min-remaining").await?;
    let min_remaining: f64 = min_remaining
        .as_deref()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("burn-down data-min-remaining is {min_remaining:?}"))?;
    assert!(
        min_remaining < 1.0,
        "the outage spent no budget on the burn-down chart: data-min-remaining={min_remaining}"
    );

    // b. The page is acknowledged from the pages list.
    browser.goto(&format!("{base}/ui/pages")).await?;
    let row_css = format!(r#"tr[data-page-id="{page_id}"]"#);
    let row = browser.find(&row_css).await?;
    let state = row.find(".page-state").await?.text().await?;
    assert!(
        state.trim().eq_ignore_ascii_case("triggered"),
        "page {page_id} before acknowledging: {state:?}"
    );
    row.find(r#"form.page-action button[name="action"][value="acknowledge"]"#)
        .await?
        .click_and_wait_for_page(LOAD)
        .await?;
    let landed = browser.current_url().await?;
    assert!(
        path_of(&landed) == "/ui/pages",
        "after acknowledging, the browser is on {landed}, not /ui/pages"
    );
    let state = browser
        .wait_for(&format!("{row_css} .page-state"), Duration::from_secs(5))
        .await?
        .text()
        .await?;
    assert!(
        state.trim().eq_ignore_ascii_case("acknowledged"),
        "page {page_id} after acknowledging: {state:?}"
    );
    let page = get_json(&http, &format!("{base}/api/v1/pages/{page_id}")).await;
    assert_eq!(page["status"], "acknowledged", "the API disagrees: {page}");
    assert!(
        page["acknowledged_by"]
            .as_str()
            .is_some_and(|by| !by.is_empty()),
        "the API names nobody as having acknowledged: {page}"
    );

    // c. The page opened an incident by rule; a public status update reaches /status.
    let incident_id = poll_json(
        &http,
        &format!("{base}/api/v1/incidents"),
        Duration::from_secs(30),
        &demo,
        |body| {
            let incidents = body["incidents"].as_array()?;
            let incident = incidents.iter().find(|incident| {
                incident["pages"]
                    .as_array()
                    .is_some_and(|pages| pages.iter().any(|page| page == page_id.as_str()))
            })?;
            incident["id"].as_str().map(str::to_string)
        },
    )
    .await;
    browser.goto(&format!("{base}/ui/incidents")).await?;
    browser
        .find(&format!(
            r#"tr[data-incident-id="{incident_id}"] a.incident-link"#
        ))
        .await?
        .click_and_wait_for_page(LOAD)
        .await?;
    let incident_url = browser.current_url().await?;
    assert!(
        path_of(&incident_url) == format!("/ui/incidents/{incident_id}"),
        "the incident link led to {incident_url}"
    );
    post_status_update(&browser, INTERNAL_TEXT, false).await?;
    browser.goto(&incident_url).await?;
    post_status_update(&browser, UPDATE_TEXT, true).await?;
    let incident = get_json(&http, &format!("{base}/api/v1/incidents/{incident_id}")).await;
    for text in [INTERNAL_TEXT, UPDATE_TEXT] {
        assert!(
            incident.to_string().contains(text),
            "the status update {text:?} is not on the incident: {incident}"
        );
    }

    let status_url = format!("{base}/status");
    browser
        .wait_until(
            "the status page shows checkout affected and the update",
            Duration::from_secs(30),
            async |browser| {
                browser.goto(&status_url).await?;
                let component = browser
                    .find(r#".component[data-service="checkout"]"#)
                    .await?;
                let status = component.attr("data-status").await?;
                let mut updates = Vec::new();
                for update in browser.find_all(".incident .incident-update").await? {
                    updates.push(update.text().await?);
                }
                let affected = status
                    .as_deref()
                    .is_some_and(|status| NOT_OPERATIONAL.contains(&status));
                if affected && updates.iter().any(|text| text.contains(UPDATE_TEXT)) {
                    return Ok(Some(()));
                }
                Err(Error::new(
                    "status page",
                    format!(
                        "checkout data-status={status:?}, published updates {updates:?}; {}",
                        shown(browser).await
                    ),
                ))
            },
        )
        .await?;
    let status_page = browser.source().await?;
    assert!(
        !status_page.contains(INTERNAL_TEXT),
        "an update not marked public leaked onto /status:\n{status_page}"
    );

    // d. The README's screenshots, when asked for.
    if let Some(folder) = screenshot_folder() {
        let shots = [
            ("slos", "/ui/slos".to_string()),
            ("slo", "/ui/slos/checkout-availability".to_string()),
            ("pages", "/ui/pages".to_string()),
            ("oncall", "/ui/oncall".to_string()),
            ("incident", format!("/ui/incidents/{incident_id}")),
            ("reports", "/ui/reports".to_string()),
            ("status", "/status".to_string()),
        ];
        browser.set_viewport_size(1280, 900).await?;
        for (name, path) in &shots {
            browser.goto(&format!("{base}{path}")).await?;
            browser
                .screenshot_png(&folder.join(format!("{name}.png")))
                .await?;
        }
        browser.set_viewport_size(390, 844).await?;
        browser.goto(&slo_url).await?;
        browser
            .screenshot_png(&folder.join("slo-phone.png"))
            .await?;
        eprintln!("screenshots saved in {}", folder.display());
    }

    // e. With the keyboard alone: Tab from the top of the pages list to the page's Resolve
    // button (past the skip link, the navigation and the Acting-as form), and Enter.
    browser.goto(&format!("{base}/ui/pages")).await?;
    let resolve_css = format!(r#"{row_css} button[name="action"][value="resolve"]"#);
    browser.press(TAB).await?;
    assert!(
        browser.focused_matches("a.skip").await?,
        "the first Tab reaches the skip link"
    );
    let mut presses = 1;
    while !browser.focused_matches(&resolve_css).await? {
        assert!(
            presses < 60,
            "60 presses of Tab never reached the Resolve button; {}",
            shown(&browser).await
        );
        browser.press(TAB).await?;
        presses += 1;
    }
    browser.press(ENTER).await?;
    poll_json(
        &http,
        &format!("{base}/api/v1/pages/{page_id}"),
        Duration::from_secs(10),
        &demo,
        |page| (page["status"] == "resolved").then_some(()),
    )
    .await;
    Ok(())
}

/// The page's title and first words, so a "not yet" says what was there instead (a 404, an
/// error page).
async fn shown(browser: &Browser) -> String {
    let title = browser
        .execute("return document.title;", Vec::new())
        .await
        .map_or_else(|err| err.to_string(), |title| title.to_string());
    let text = match browser.find("body").await {
        Ok(body) => body.text().await.unwrap_or_else(|err| err.to_string()),
        Err(err) => err.to_string(),
    };
    let start: String = text.chars().take(200).collect();
    format!("the page shows title {title}, text {start:?}")
}

/// Fills and submits the incident page's status update form, ticking or clearing `public`.
async fn post_status_update(browser: &Browser, text: &str, public: bool) -> Result<(), Error> {
    let form = browser
        .wait_for("form#status-update", Duration::from_secs(5))
        .await?;
    let text_box = form.find(r#"textarea[name="text"]"#).await?;
    text_box.send_keys(text).await?;
    let typed = text_box.property("value").await?;
    if typed.as_deref() != Some(text) {
        return Err(Error::new(
            "the status update form",
            format!("typed {text:?}, the text box holds {typed:?}"),
        ));
    }
    let public_box = form
        .find(r#"input[type="checkbox"][name="public"]"#)
        .await?;
    if public_box.selected().await? != public {
        public_box.click().await?;
    }
    if public_box.selected().await? != public {
        return Err(Error::new(
            "the status update form",
            format!("the public box did not become {public}"),
        ));
    }
    form.find(r#"button[type="submit"]"#)
        .await?
        .click_and_wait_for_page(LOAD)
        .await
}

/// Where `NINES_SCREENSHOTS` points, created, when it is set.
fn screenshot_folder() -> Option<PathBuf> {
    let folder = PathBuf::from(std::env::var_os("NINES_SCREENSHOTS")?);
    std::fs::create_dir_all(&folder)
        .unwrap_or_else(|err| panic!("creating {}: {err}", folder.display()));
    Some(folder)
}

/// The path of an absolute URL, without query or fragment.
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    path.split(['?', '#']).next().unwrap_or(path).to_string()
}

/// GETs `url` every 500 ms until `pick` finds something in its JSON, at most `timeout`; a
/// timeout panics with the last answer and the demo's log.
async fn poll_json<T>(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
    demo: &Process,
    pick: impl Fn(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match http.get(url).send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status.is_success()
                    && let Ok(value) = serde_json::from_str::<Value>(&body)
                    && let Some(found) = pick(&value)
                {
                    return found;
                }
                format!("{status}: {body}")
            }
            Err(err) => err.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "GET {url}: nothing awaited within {timeout:?}; last answer {last}\nthe demo logged:\n{}",
            demo.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
