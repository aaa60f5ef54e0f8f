//! The web UI over real HTTP: every page renders from the API's data, forms carry a CSRF token
//! that is checked, they change state only through the API's own rules (its refusals come back
//! as the page's error), cross-site writes are refused on the API too, and what users typed is
//! escaped.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestServer, folder};

const CONFIG: &str = r#"version: nines/v1
services:
  - {id: payments, owner: payments-team, runbooks: ["https://runbooks.example/payments"]}
slos:
  - id: checkout
    service: payments
    objective_percent: 99
    window: 7d
    labels: {tier: "1"}
    sli: {pushed: {}}
  - id: refunds
    service: payments
    objective_percent: 99.5
    window: 7d
    sli: {pushed: {}}
people:
  - {id: alice, name: Alice Example, time_zone: Europe/Berlin}
  - {id: bob, name: Bob Example, time_zone: America/New_York}
teams:
  - {id: payments-team, name: Payments, members: [alice, bob], escalation_policy: payments}
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - {name: weekly, members: [alice, bob], shift: 1w, start: "2026-01-05T09:00"}
escalation_policies:
  - id: payments
    steps:
      - {targets: [{schedule: payments-primary}]}
"#;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser's view of one page: its HTML, the CSRF cookie it was given and the form token.
struct Visit {
    html: String,
    cookie: String,
    token: String,
}

async fn visit(server: &TestServer, path: &str, cookie: Option<&str>) -> Visit {
    let mut request = client().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|value| value.to_str().unwrap().to_string());
    let html = response.text().await.unwrap();
    let cookie = match (cookie, set_cookie) {
        (Some(cookie), _) => cookie.to_string(),
        (None, Some(set)) => {
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            set.split(';').next().unwrap().to_string()
        }
        (None, None) => panic!("GET {path} set no CSRF cookie"),
    };
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    Visit {
        html,
        cookie,
        token,
    }
}

/// Posts a form; returns the status and where the browser is sent.
async fn submit(
    server: &TestServer,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = client()
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    let response = request.body(body.join("&")).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

async fn open_page(server: &TestServer) -> String {
    let (status, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "PaymentsDown", "service": "payments"}, "summary": "payments down"}),
        )
        .await;
    assert!(status < 300, "{body}");
    body["alerts"][0]["page"].as_str().unwrap().to_string()
}

async fn page_status(server: &TestServer, id: &str) -> Value {
    server.get_json(&format!("/api/v1/pages/{id}")).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_from_the_api() {
    let folder = folder("ui-pages");
    let server = TestServer::start(&folder, CONFIG).await;
    for id in ["checkout", "refunds"] {
        let (status, _) = server
            .post_json(
                &format!("/api/v1/slos/{id}/events"),
                json!({"good": 90, "total": 100}),
            )
            .await;
        assert_eq!(status, 202);
    }
    let page = open_page(&server).await;
    let (status, incident) = server
        .post_json(
            "/api/v1/incidents",
            json!({"title": "Checkout <b>failing</b>", "severity": "SEV2", "by": "alice",
                   "services": ["payments"], "slos": ["checkout"]}),
        )
        .await;
    assert_eq!(status, 201, "{incident}");
    let incident = incident["id"].as_str().unwrap().to_string();
    // The evaluator reads the events within a few cycles.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let list = visit(&server, "/ui/slos", None).await;
    assert!(
        list.html.contains("data-slo-id=\"checkout\""),
        "{}",
        list.html
    );
    assert!(list.html.contains("data-slo-id=\"refunds\""));
    let filtered = visit(&server, "/ui/slos?label=tier%3D1", Some(&list.cookie)).await;
    assert!(filtered.html.contains("data-slo-id=\"checkout\""));
    assert!(
        !filtered.html.contains("data-slo-id=\"refunds\""),
        "the label filter keeps only checkout"
    );
    let by_burn = visit(&server, "/ui/slos?sort=burn", Some(&list.cookie)).await;
    assert!(by_burn.html.contains("sorted by burn rate"));

    let slo = visit(&server, "/ui/slos/checkout", Some(&list.cookie)).await;
    assert!(slo.html.contains("chart-burn-down"), "{}", slo.html);
    assert!(slo.html.contains("chart-burn-rate"));
    assert!(
        slo.html.contains("Checkout &lt;b&gt;failing&lt;/b&gt;")
            || slo.html.contains("Checkout &#60;b&#62;failing&#60;/b&#62;"),
        "the incident is listed, its title escaped"
    );

    let pages = visit(&server, "/ui/pages", Some(&list.cookie)).await;
    assert!(pages.html.contains(&format!("data-page-id=\"{page}\"")));
    assert!(pages.html.contains("value=\"acknowledge\""));
    assert!(pages.html.contains("id=\"alert-list\""));
    let detail = visit(&server, &format!("/ui/pages/{page}"), Some(&list.cookie)).await;
    assert!(detail.html.contains("payments down"));

    let oncall = visit(&server, "/ui/oncall", Some(&list.cookie)).await;
    assert!(oncall.html.contains("payments-primary"));
    assert!(
        oncall.html.contains("Alice Example") || oncall.html.contains("Bob Example"),
        "someone is on call"
    );

    let incidents = visit(&server, "/ui/incidents", Some(&list.cookie)).await;
    assert!(
        incidents
            .html
            .contains(&format!("data-incident-id=\"{incident}\""))
    );
    assert!(
        !incidents.html.contains("<b>failing</b>"),
        "titles are escaped"
    );
    let one = visit(
        &server,
        &format!("/ui/incidents/{incident}"),
        Some(&list.cookie),
    )
    .await;
    assert!(one.html.contains("id=\"status-update\""));
    assert!(one.html.contains("SEV2"));

    let report = visit(&server, "/ui/reports", Some(&list.cookie)).await;
    assert!(report.html.contains("SLO attainment"), "{}", report.html);
    let bad_report = visit(&server, "/ui/reports?from=yesterday", Some(&list.cookie)).await;
    assert!(
        bad_report.html.contains("class=\"problem\""),
        "the API's refusal is shown"
    );

    let response = client()
        .get(server.url("/ui/slos/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let response = client()
        .get(server.url("/ui/assets/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("htmx"));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_browsers_csrf_token_and_follow_the_api_rules() {
    let folder = folder("ui-forms");
    let server = TestServer::start(&folder, CONFIG).await;
    let page = open_page(&server).await;
    let acknowledge = format!("/ui/act/pages/{page}/acknowledge");
    let visit_pages = visit(&server, "/ui/pages", None).await;
    assert!(!visit_pages.token.is_empty());

    // Without the cookie, without the token, with another browser's token: refused, unchanged.
    let other = visit(&server, "/ui/pages", None).await;
    assert_ne!(other.cookie, visit_pages.cookie);
    for (cookie, token) in [
        (None, visit_pages.token.as_str()),
        (Some(visit_pages.cookie.as_str()), ""),
        (Some(visit_pages.cookie.as_str()), other.token.as_str()),
    ] {
        let (status, location) = submit(
            &server,
            &acknowledge,
            cookie,
            &[("csrf", token), ("back", "/ui/pages")],
            &[],
        )
        .await;
        assert_eq!(status, 303);
        assert!(location.starts_with("/ui/pages?error="), "{location}");
        assert!(location.contains("CSRF"), "{location}");
        assert_eq!(page_status(&server, &page).await["status"], "triggered");
    }

    // A form posted from another site is refused before any handler, token or not.
    let (status, _) = submit(
        &server,
        &acknowledge,
        Some(&visit_pages.cookie),
        &[("csrf", &visit_pages.token)],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(status, 403);
    // The JSON API too: a cross-site form cannot acknowledge a page with an empty body.
    let (status, _) = server
        .post(
            &format!("/api/v1/pages/{page}/acknowledge"),
            "text/plain",
            Vec::new(),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(page_status(&server, &page).await["status"], "triggered");

    // Who acts is set once per browser, then the right token acknowledges.
    let cookie = visit_pages.cookie.clone();
    let (status, location) = submit(
        &server,
        "/ui/me",
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("name", "alice"),
            ("back", "/ui/pages"),
        ],
        &[],
    )
    .await;
    assert_eq!(
        (status, location.starts_with("/ui/pages?done=")),
        (303, true)
    );
    let cookie = format!("{cookie}; nines_user=alice");
    let (status, location) = submit(
        &server,
        &acknowledge,
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", "/ui/pages"),
            ("action", "acknowledge"),
        ],
        &[("origin", &server.base), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/ui/pages?done="), "{location}");
    let acked = page_status(&server, &page).await;
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "alice");
    let after = visit(&server, "/ui/pages", Some(&cookie)).await;
    assert!(after.html.contains(">acknowledged<"), "{}", after.html);

    // The API's own refusals come back as the page's error, and change nothing.
    let (status, created) = server
        .post_json(
            "/api/v1/incidents",
            json!({"title": "Payments down", "severity": "SEV1", "by": "bob"}),
        )
        .await;
    assert_eq!(status, 201);
    let incident = created["id"].as_str().unwrap().to_string();
    let back = format!("/ui/incidents/{incident}");
    let (_, location) = submit(
        &server,
        &format!("/ui/act/incidents/{incident}/severity"),
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", &back),
            ("severity", "SEV9"),
        ],
        &[],
    )
    .await;
    assert!(
        location.starts_with(&format!("{back}?error=")),
        "{location}"
    );
    let (_, shown) = server
        .get_json(&format!("/api/v1/incidents/{incident}"))
        .await;
    assert_eq!(shown["severity"], "SEV1");
    // A public status update from the incident page's form.
    let (_, location) = submit(
        &server,
        &format!("/ui/act/incidents/{incident}/updates"),
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", &back),
            ("text", "We are investigating failed payments"),
            ("public", "on"),
        ],
        &[],
    )
    .await;
    assert!(location.starts_with(&format!("{back}?done=")), "{location}");
    let (_, shown) = server
        .get_json(&format!("/api/v1/incidents/{incident}"))
        .await;
    let update = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| {
            entry["text"]
                .as_str()
                .is_some_and(|text| text.contains("We are investigating failed payments"))
        })
        .cloned();
    assert!(update.is_some(), "{shown}");
    let update = update.unwrap();
    assert!(
        update["actor"] == "alice",
        "the update is by who acts in this browser"
    );
    assert_eq!(update["public"], true, "{update}");
    let page = visit(&server, &back, Some(&cookie)).await;
    assert!(
        page.html
            .contains("title=\"shown on the status page\">public</span>")
    );

    // A postmortem drafted from the form, then published as drafted (not rebuilt empty).
    let (status, _) = server
        .post_json(
            &format!("/api/v1/incidents/{incident}/resolve"),
            json!({"by": "bob"}),
        )
        .await;
    assert_eq!(status, 200);
    let postmortem = format!("/ui/act/incidents/{incident}/postmortem");
    let (_, location) = submit(
        &server,
        &postmortem,
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", &back),
            ("summary", "A full disk stopped the payment writer"),
            (
                "causes",
                "disk alerts had no owner\nretention was unbounded",
            ),
        ],
        &[],
    )
    .await;
    assert!(location.starts_with(&format!("{back}?done=")), "{location}");
    let page = visit(&server, &back, Some(&cookie)).await;
    assert!(page.html.contains("Publish this postmortem"));
    let (_, location) = submit(
        &server,
        &postmortem,
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", &back),
            ("publish", "true"),
        ],
        &[],
    )
    .await;
    assert!(location.starts_with(&format!("{back}?done=")), "{location}");
    let (_, shown) = server
        .get_json(&format!("/api/v1/incidents/{incident}"))
        .await;
    assert!(shown["postmortem_published"].is_string(), "{shown}");
    let text = shown["postmortem"].as_str().unwrap_or_default();
    assert!(
        text.contains("A full disk stopped the payment writer"),
        "{text}"
    );
    assert!(text.contains("retention was unbounded"), "{text}");

    // Forms reach only their API routes, and send the browser back only into the UI.
    let (_, location) = submit(
        &server,
        "/ui/act/write",
        Some(&cookie),
        &[
            ("csrf", &visit_pages.token),
            ("back", "https://evil.example/"),
        ],
        &[],
    )
    .await;
    assert!(location.starts_with("/ui/slos?error="), "{location}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slo_list_comes_a_page_at_a_time_worst_budget_first() {
    let folder = folder("ui-paging");
    let mut text = String::from("version: nines/v1\nservices:\n  - {id: shop}\nslos:\n");
    for index in 0..205 {
        text.push_str(&format!(
            "  - {{id: slo{index:03}, service: shop, objective_percent: 99, window: 7d, sli: {{pushed: {{}}}}}}\n"
        ));
    }
    let server = TestServer::start(&folder, &text).await;
    // One SLO spends budget; sorted by budget left it comes first.
    let (status, _) = server
        .post_json(
            "/api/v1/slos/slo150/events",
            json!({"good": 50, "total": 100}),
        )
        .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let first = visit(&server, "/ui/slos", None).await;
    let rows = |html: &str| html.matches("data-slo-id=").count();
    assert_eq!(rows(&first.html), 200);
    assert!(first.html.contains("page 1 of 2"), "{}", first.html);
    let first_row = first
        .html
        .split("data-slo-id=\"")
        .nth(1)
        .unwrap_or_default();
    assert!(first_row.starts_with("slo150\""), "worst budget first");
    assert!(first.html.contains("href=\"/ui/slos?page=2\""));
    let second = visit(&server, "/ui/slos?page=2", Some(&first.cookie)).await;
    assert_eq!(rows(&second.html), 5);
    assert!(second.html.contains("rel=\"prev\""));
    // Past the end is the last page; filters keep their page links.
    let beyond = visit(&server, "/ui/slos?page=99", Some(&first.cookie)).await;
    assert_eq!(rows(&beyond.html), 5);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
