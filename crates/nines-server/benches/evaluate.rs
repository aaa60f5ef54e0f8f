//! Benchmark of the server's evaluator: one evaluation cycle of a `Fleet` of 10,000 SLOs, each
//! with a month of data behind it, and the resident memory each filled SLO costs (RSS from
//! `/proc/self/status` before and after building the fleet, printed to stderr).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use nines_core::{AlertPolicy, BudgetingMethod, CountKind, Objective, SloSpec, Span, Window};
use nines_server::evaluator::Fleet;
use nines_spec::{Catalog, Format, Origin, Sli, SloDef, SloId};

const N_SLOS: usize = 10_000;
const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn slo(index: usize) -> SloDef {
    let service = format!("svc-{}", index / 2);
    SloDef {
        id: SloId::new(&format!("slo-{index}")).expect("valid id"),
        name: format!("slo-{index}"),
        description: None,
        journey: None,
        labels: Default::default(),
        spec: SloSpec {
            objective: Objective::new(0.999).expect("valid objective"),
            window: Window::rolling(Span::days(30)).expect("valid window"),
            method: BudgetingMethod::Occurrences,
            policy: AlertPolicy::workbook(),
            count_kind: CountKind::Bad,
        },
        window_from_file: true,
        sli: Sli::Counters {
            good: None,
            bad: Some(format!(
                r#"http_requests_total{{service="{service}",code=~"5.."}}"#
            )),
            total: format!(r#"http_requests_total{{service="{service}"}}"#),
        },
        service,
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

/// The instants counts are recorded at: every hour of the month before the last three days and
/// six hours, every ten minutes of those three days, every minute of the last six hours. That
/// fills every bucket of every tier, as per-minute traffic would, in a fraction of the calls.
fn record_times(start: i64, now: i64) -> Vec<i64> {
    let coarse_until = now - 3 * DAY - 6 * 3600;
    let medium_until = now - 6 * 3600;
    let mut times = Vec::new();
    let mut second = start;
    while second <= now {
        times.push(second);
        second += if second < coarse_until {
            3600
        } else if second < medium_until {
            600
        } else {
            60
        };
    }
    times
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn build_fleet(catalog: &Catalog) -> Fleet {
    let start = NOW - 31 * DAY;
    let mut fleet = Fleet::new(catalog, Timestamp::from_second(start).expect("valid start"));
    let times = record_times(start, NOW);
    for def in &catalog.slos {
        let id = def.id.as_str();
        for &second in &times {
            // 1000 events a minute, 3 bad ones every two hours: healthy, no alert.
            let bad = u64::from(second % 7200 == 0) * 3;
            fleet
                .record(
                    id,
                    Timestamp::from_second(second).expect("valid time"),
                    bad,
                    1000,
                )
                .expect("recorded");
        }
    }
    fleet
}

fn evaluate_fleet(c: &mut Criterion) {
    let before_catalog = resident_bytes();
    let catalog = Catalog {
        slos: (0..N_SLOS).map(slo).collect(),
        ..Catalog::default()
    };
    let before_fleet = resident_bytes();
    let mut fleet = build_fleet(&catalog);
    let now = Timestamp::from_second(NOW).expect("valid now");
    // The first evaluation keeps each SLO's last `Evaluation`, which the server holds too.
    let notices = fleet.evaluate(now);
    assert!(notices.is_empty(), "a healthy fleet raised {notices:?}");
    let after_fleet = resident_bytes();
    let per_slo = |from: u64| (after_fleet.saturating_sub(from)) as f64 / N_SLOS as f64 / 1024.0;
    eprintln!(
        "resident memory per SLO ({N_SLOS} SLOs, 30-day window, a month of data): \
         {:.1} KiB for the fleet (runtimes, definitions, last evaluations), \
         {:.1} KiB with the catalog; RSS {} -> {} -> {} KiB",
        per_slo(before_fleet),
        per_slo(before_catalog),
        before_catalog / 1024,
        before_fleet / 1024,
        after_fleet / 1024,
    );

    let mut group = c.benchmark_group("fleet");
    group.sample_size(20);
    group.bench_function("evaluate 10k SLOs, one cycle", |b| {
        b.iter(|| black_box(fleet.evaluate(black_box(now))))
    });
    group.finish();
}

criterion_group!(benches, evaluate_fleet);
criterion_main!(benches);
