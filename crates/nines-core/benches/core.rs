//! Benchmarks of the core: evaluating every window and alert pair of 100,000 SLOs, and the
//! memory of one SLO's 28-day bucket series.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use nines_core::{
    AlertPolicy, BudgetingMethod, CountKind, Objective, SloRuntime, SloSpec, Span, Window,
};

const SLOS: usize = 100_000;

fn spec() -> SloSpec {
    SloSpec {
        objective: Objective::new(0.999).unwrap(),
        window: Window::rolling(Span::days(28)).unwrap(),
        method: BudgetingMethod::Occurrences,
        policy: AlertPolicy::workbook(),
        count_kind: CountKind::Bad,
    }
}

/// One SLO with 28 days of per-minute traffic behind it.
fn filled_runtime(spec: &SloSpec, start: i64, now: i64) -> SloRuntime {
    let mut runtime = SloRuntime::new(spec, Timestamp::from_second(start).unwrap());
    let mut second = start;
    while second <= now {
        let bad = u64::from(second % 7200 == 0) * 3;
        runtime
            .record(Timestamp::from_second(second).unwrap(), bad, 1000)
            .unwrap();
        second += 60;
    }
    runtime.shrink_to_fit();
    runtime
}

fn evaluate_all(c: &mut Criterion) {
    let spec = spec();
    let now = 1_800_000_000;
    let start = now - 29 * 86_400;
    let one = filled_runtime(&spec, start, now);
    eprintln!(
        "memory of one SLO with a 28-day series: {} bytes",
        one.memory_bytes()
    );
    eprintln!(
        "memory of its count series alone: {} bytes",
        one.counts().memory_bytes()
    );
    let mut runtimes: Vec<SloRuntime> = (0..SLOS).map(|_| one.clone()).collect();
    let at = Timestamp::from_second(now).unwrap();
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(10);
    group.bench_function("100k SLOs, every window and alert pair", |b| {
        b.iter(|| {
            let mut firing = 0usize;
            for runtime in runtimes.iter_mut() {
                let evaluation = runtime.evaluate(&spec, at).unwrap();
                firing += evaluation.pairs.iter().filter(|pair| pair.fires()).count();
            }
            black_box(firing)
        })
    });
    // The same work on 1,000 SLOs, whose buckets fit in the caches: the difference per SLO is
    // what waiting for memory costs.
    let mut few: Vec<SloRuntime> = runtimes.iter().take(1000).cloned().collect();
    group.bench_function(
        "1k SLOs (cache-resident), every window and alert pair",
        |b| {
            b.iter(|| {
                let mut firing = 0usize;
                for runtime in few.iter_mut() {
                    let evaluation = runtime.evaluate(&spec, at).unwrap();
                    firing += evaluation.pairs.iter().filter(|pair| pair.fires()).count();
                }
                black_box(firing)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, evaluate_all);
criterion_main!(benches);
