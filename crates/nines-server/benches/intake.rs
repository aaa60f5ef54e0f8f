//! Benchmark of intake: decoding, matching and counting one realistic remote-write body
//! (10,000 series, 1% of them selected by 100 SLOs), in samples per second, with 10 samples per
//! series and with one (what Prometheus usually sends).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines_core::{AlertPolicy, BudgetingMethod, CountKind, Objective, SloSpec, Span, Window};
use nines_server::intake::remote_write::{self, Label, Sample, TimeSeries, WriteRequest};
use nines_server::intake::{Batch, CounterState, Matcher};
use nines_spec::{Catalog, Format, Origin, Sli, SloDef, SloId};

const N_SERIES: usize = 10_000;
const N_SLOS: usize = 100;
/// `http_requests_total` series of services no SLO selects: same name, other labels.
const N_SAME_NAME_UNMATCHED: usize = 900;
const MAX_BODY: usize = 64 << 20;

fn slo(index: usize) -> SloDef {
    let service = format!("svc-{}", index / 2);
    // Two SLOs per service: errors out of all, and unavailability out of non-4xx.
    let (bad, total) = if index.is_multiple_of(2) {
        (
            format!(r#"http_requests_total{{service="{service}",code=~"5.."}}"#),
            format!(r#"http_requests_total{{service="{service}"}}"#),
        )
    } else {
        (
            format!(r#"http_requests_total{{service="{service}",code="503"}}"#),
            format!(r#"http_requests_total{{service="{service}",code!~"4.."}}"#),
        )
    };
    SloDef {
        id: SloId::new(&format!("slo-{index}")).expect("valid id"),
        name: format!("slo-{index}"),
        service,
        description: None,
        journey: None,
        labels: Default::default(),
        spec: SloSpec {
            objective: Objective::new(0.999).expect("valid objective"),
            window: Window::rolling(Span::days(28)).expect("valid window"),
            method: BudgetingMethod::Occurrences,
            policy: AlertPolicy::workbook(),
            count_kind: CountKind::Bad,
        },
        window_from_file: true,
        sli: Sli::Counters {
            good: None,
            bad: Some(bad),
            total,
        },
        source: None,
        alerting: Default::default(),
        budget_policy: None,
        runbook: None,
        kubernetes: None,
        origin: Origin {
            file: "bench.yaml".to_string(),
            line: 1,
            path: format!("slos[{index}]"),
            format: Format::Native,
        },
    }
}

/// A series with the labels a Kubernetes scrape gives, sorted by name as Prometheus sends them.
fn series(
    name: &str,
    service: &str,
    code: &str,
    index: usize,
    start_ms: i64,
    n_samples: usize,
) -> TimeSeries {
    let mut labels = vec![
        Label::new("__name__", name),
        Label::new("code", code),
        Label::new("container", "app"),
        Label::new(
            "instance",
            &format!("10.0.{}.{}:8080", index / 250, index % 250),
        ),
        Label::new("job", "kubernetes-pods"),
        Label::new("namespace", "production"),
        Label::new("pod", &format!("{service}-7d9f8b6c5-{index:05}")),
        Label::new("service", service),
    ];
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    let samples = (0..n_samples)
        .map(|step| Sample {
            value: (index * 7 + step * 13) as f64 + (start_ms / 1000) as f64,
            timestamp: start_ms + step as i64 * 15_000,
        })
        .collect();
    TimeSeries { labels, samples }
}

fn request(start_ms: i64, n_samples: usize) -> WriteRequest {
    let mut timeseries = Vec::with_capacity(N_SERIES);
    let n_matched = N_SERIES / 100;
    for index in 0..n_matched {
        let code = ["200", "500", "503", "404"][index % 4];
        timeseries.push(series(
            "http_requests_total",
            &format!("svc-{}", index % (N_SLOS / 2)),
            code,
            index,
            start_ms,
            n_samples,
        ));
    }
    for index in 0..N_SAME_NAME_UNMATCHED {
        timeseries.push(series(
            "http_requests_total",
            &format!("other-{}", index % 40),
            "200",
            index,
            start_ms,
            n_samples,
        ));
    }
    let mut index = 0;
    while timeseries.len() < N_SERIES {
        let name = format!("unrelated_metric_{}_total", index % 300);
        timeseries.push(series(&name, "other", "200", index, start_ms, n_samples));
        index += 1;
    }
    WriteRequest {
        timeseries,
        metadata: Vec::new(),
    }
}

fn decode_match_count(c: &mut Criterion) {
    let catalog = Catalog {
        slos: (0..N_SLOS).map(slo).collect(),
        ..Catalog::default()
    };
    let matcher = Matcher::build(&catalog);
    assert!(matcher.problems().is_empty());

    let mut group = c.benchmark_group("intake");
    group.sample_size(20);
    for n_samples in [10, 1] {
        // The state after an earlier push, so that the measured push counts increments.
        let earlier = remote_write::encode(&request(0, n_samples));
        let body = remote_write::encode(&request(n_samples as i64 * 15_000, n_samples));
        let mut state = CounterState::new();
        let decoded = remote_write::decode(&earlier, MAX_BODY).expect("valid body");
        let prepared = state.prepare(&matcher, &Batch::from_write_request(decoded));
        state.adopt(&prepared);

        let check = state.prepare(
            &matcher,
            &Batch::from_write_request(remote_write::decode(&body, MAX_BODY).expect("valid body")),
        );
        assert_eq!(check.stats.accepted, (N_SERIES / 100 * n_samples) as u64);
        assert!(!check.commit.counts.is_empty());

        group.throughput(Throughput::Elements((N_SERIES * n_samples) as u64));
        group.bench_function(
            format!("decode_match_count/{n_samples}_samples_per_series"),
            |b| {
                b.iter(|| {
                    let decoded =
                        remote_write::decode(black_box(&body), MAX_BODY).expect("valid body");
                    let prepared = state.prepare(&matcher, &Batch::from_write_request(decoded));
                    black_box(prepared)
                })
            },
        );
        group.bench_function(format!("decode_only/{n_samples}_samples_per_series"), |b| {
            b.iter(|| remote_write::decode(black_box(&body), MAX_BODY).expect("valid body"))
        });
    }
    group.finish();
}

criterion_group!(benches, decode_match_count);
criterion_main!(benches);
