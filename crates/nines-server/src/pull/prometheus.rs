//! The Prometheus HTTP API as nines uses it: range queries (`POST {url}/api/v1/query_range`)
//! at one-minute steps for pulled SLIs and at any step for the web UI's charts, with the
//! source's auth, extra headers and timeout, and every way an answer can be wrong named.

use std::collections::BTreeMap;
use std::time::Duration;

use nines_spec::catalog::{PrometheusSource, SourceAuth};
use serde::Deserialize;

/// The largest answer read; a range query of one SLO over one chunk is far smaller.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// The most of an error body kept in a message.
const ERROR_BODY_LIMIT: usize = 300;

/// One series of a range query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    /// (unix seconds, value), oldest first, every time a multiple of 60.
    pub points: Vec<(i64, f64)>,
}

impl Series {
    /// Points whose edge (in minutes since the epoch) is in `first..=last`.
    pub fn points_between(&self, first: i64, last: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(move |(at, _)| (first..=last).contains(&(at / 60)))
    }

    /// `{a="1",b="2"}`, for messages.
    pub fn describe(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(key, value)| format!("{key}={value:?}"))
            .collect();
        format!("{{{}}}", labels.join(","))
    }
}

/// Why a query gave no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("no answer from {url} within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    /// Prometheus answered with `status: error` (bad_data, execution, timeout, ...).
    #[error("Prometheus refused the query (HTTP {status}, {error_type}): {message}")]
    Refused {
        status: u16,
        error_type: String,
        message: String,
    },
    #[error("HTTP {status} from {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unusable answer from {url}: {detail}")]
    Malformed { url: String, detail: String },
}

/// A client of one source. Credentials are given when it is built (read from the environment
/// by the server), never kept in the catalog.
#[derive(Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    base: String,
    auth: Option<Credentials>,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

#[derive(Clone)]
enum Credentials {
    Basic { username: String, password: String },
    Bearer(String),
}

impl PrometheusClient {
    /// A client for `source`, its secrets looked up in `environment`; a missing variable is an
    /// error naming it.
    pub fn new(
        source: &PrometheusSource,
        environment: &std::collections::HashMap<String, String>,
    ) -> Result<PrometheusClient, String> {
        let secret = |name: &str| {
            environment.get(name).cloned().ok_or_else(|| {
                format!("environment variable {name} (the source's credentials) is not set")
            })
        };
        let auth = match &source.auth {
            None => None,
            Some(SourceAuth::Basic {
                username,
                password_env,
            }) => Some(Credentials::Basic {
                username: username.clone(),
                password: secret(password_env)?,
            }),
            Some(SourceAuth::Bearer { token_env }) => Some(Credentials::Bearer(secret(token_env)?)),
        };
        let timeout = Duration::from_secs(source.timeout.as_secs().max(1) as u64);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("nines/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build an HTTP client: {err}"))?;
        Ok(PrometheusClient {
            http,
            base: source.url.trim_end_matches('/').to_string(),
            auth,
            headers: source
                .headers
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// `query` at every minute edge from `from_minute` to `to_minute` (both included).
    pub async fn query_minutes(
        &self,
        query: &str,
        from_minute: i64,
        to_minute: i64,
    ) -> Result<Vec<Series>, QueryError> {
        self.query_range(query, from_minute * 60, to_minute * 60, 60)
            .await
    }

    /// `query` at `start`, `start + step`, ... up to `end` (unix seconds, both included when on
    /// a step). Every point of the answer is checked to be one of these times.
    pub async fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step_seconds: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let form = [
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step_seconds.to_string()),
        ];
        let (status, body) = self.fetch(&url, self.http.post(&url).form(&form)).await?;
        let Some(body) = body else {
            return Err(QueryError::Malformed {
                url,
                detail: format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
            });
        };
        parse_range_answer(&url, status, &body, start, end, step_seconds)
    }

    /// The types the source's metadata gives a metric (`counter`, `gauge`, ...); empty when it
    /// knows none (metadata comes from scrapes; remote-written or imported series have none).
    pub async fn metric_types(&self, metric: &str) -> Result<Vec<String>, QueryError> {
        let url = format!("{}/api/v1/metadata", self.base);
        let (status, body) = self
            .fetch(&url, self.http.get(&url).query(&[("metric", metric)]))
            .await?;
        let body = body.unwrap_or_default();
        #[derive(Deserialize)]
        struct Metadata {
            status: String,
            #[serde(default)]
            data: BTreeMap<String, Vec<Entry>>,
        }
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "type")]
            kind: String,
        }
        let parsed: Metadata = serde_json::from_slice(&body).map_err(|err| QueryError::Http {
            url: url.clone(),
            status,
            body: clip(&format!("{err}: {}", String::from_utf8_lossy(&body))),
        })?;
        if parsed.status != "success" {
            return Err(QueryError::Http {
                url,
                status,
                body: clip(&String::from_utf8_lossy(&body)),
            });
        }
        Ok(parsed
            .data
            .into_values()
            .flatten()
            .map(|entry| entry.kind)
            .collect())
    }

    /// Sends `request` with the source's headers and credentials: the answer's status and body
    /// (`None` when larger than the limit).
    async fn fetch(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Option<Vec<u8>>), QueryError> {
        let response = self
            .authorize(request)
            .send()
            .await
            .map_err(|err| self.failure(url, err))?;
        let status = response.status().as_u16();
        let body = read_limited(response)
            .await
            .map_err(|err| self.failure(url, err))?;
        Ok((status, body))
    }

    /// The source's extra headers and credentials on a request.
    fn authorize(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        match &self.auth {
            None => request,
            Some(Credentials::Basic { username, password }) => {
                request.basic_auth(username, Some(password))
            }
            Some(Credentials::Bearer(token)) => request.bearer_auth(token),
        }
    }

    fn failure(&self, url: &str, err: reqwest::Error) -> QueryError {
        if err.is_timeout() {
            QueryError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs(),
            }
        } else {
            let mut detail = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(inner) = source {
                detail = format!("{detail}: {inner}");
                source = inner.source();
            }
            QueryError::Unreachable {
                url: url.to_string(),
                detail,
            }
        }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RawSeries>,
}

#[derive(Deserialize)]
struct RawSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    histograms: Option<serde_json::Value>,
}

fn clip(text: &str) -> String {
    let mut end = text.len().min(ERROR_BODY_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_string()
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Reads the answer of a range query at one-minute steps, checking that every point is at one
/// of the edges asked for.
pub fn parse_answer(
    url: &str,
    status: u16,
    body: &[u8],
    from_minute: i64,
    to_minute: i64,
) -> Result<Vec<Series>, QueryError> {
    parse_range_answer(url, status, body, from_minute * 60, to_minute * 60, 60)
}

/// Reads a range query's answer, checking that every point is at one of the times asked for:
/// `start + k * step_seconds`, at most `end` (unix seconds).
pub fn parse_range_answer(
    url: &str,
    status: u16,
    body: &[u8],
    start: i64,
    end: i64,
    step_seconds: i64,
) -> Result<Vec<Series>, QueryError> {
    let step = step_seconds.max(1);
    let edge = if step == 60 {
        "a minute edge".to_string()
    } else {
        format!("a {step}-second step")
    };
    let malformed = |detail: String| QueryError::Malformed {
        url: url.to_string(),
        detail,
    };
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(err) => {
            if !(200..300).contains(&status) {
                return Err(QueryError::Http {
                    url: url.to_string(),
                    status,
                    body: clip(&String::from_utf8_lossy(body)),
                });
            }
            return Err(malformed(format!("not a Prometheus API answer: {err}")));
        }
    };
    if answer.status != "success" {
        return Err(QueryError::Refused {
            status,
            error_type: answer.error_type.unwrap_or_else(|| "unknown".to_string()),
            message: answer
                .error
                .map(|message| clip(&message))
                .unwrap_or_else(|| format!("status {:?} without an error", answer.status)),
        });
    }
    if !(200..300).contains(&status) {
        return Err(QueryError::Http {
            url: url.to_string(),
            status,
            body: clip(&String::from_utf8_lossy(body)),
        });
    }
    let data = answer
        .data
        .ok_or_else(|| malformed("`data` is missing".to_string()))?;
    if data.result_type != "matrix" {
        return Err(malformed(format!(
            "resultType {:?} where a range query gives \"matrix\"",
            data.result_type
        )));
    }
    let mut out = Vec::with_capacity(data.result.len());
    for raw in data.result {
        let describe = Series {
            labels: raw.metric.clone(),
            points: Vec::new(),
        }
        .describe();
        if raw.histograms.is_some() {
            return Err(malformed(format!(
                "series {describe} holds native histograms; nines reads float counters (select the _count or a classic _bucket series)"
            )));
        }
        let mut points = Vec::with_capacity(raw.values.len());
        let mut last = i64::MIN;
        for (time, text) in raw.values {
            let at = time.round() as i64;
            if (time - at as f64).abs() > 1e-6
                || (at - start).rem_euclid(step) != 0
                || !(start..=end).contains(&at)
            {
                return Err(malformed(format!(
                    "series {describe} has a point at {time}, which is not {edge} between the ones asked for"
                )));
            }
            if at <= last {
                return Err(malformed(format!(
                    "series {describe} has its points out of order at {time}"
                )));
            }
            last = at;
            let value = parse_value(&text).ok_or_else(|| {
                malformed(format!(
                    "series {describe} has value {text:?} at {time}, which is not a number"
                ))
            })?;
            points.push((at, value));
        }
        out.push(Series {
            labels: raw.metric,
            points,
        });
    }
    Ok(out)
}
