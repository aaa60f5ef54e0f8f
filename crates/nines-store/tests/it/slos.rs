//! SLO registration: upserts by id keep when an SLO was first seen.

use nines_store::SloRow;

use crate::harness::Ctx;

conformance!(upsert_keeps_first_seen_and_takes_new_names);

fn slo(id: &str, name: &str, first_seen_ms: i64) -> SloRow {
    SloRow {
        id: id.to_string(),
        name: name.to_string(),
        service: "checkout".to_string(),
        first_seen_ms,
    }
}

async fn upsert_keeps_first_seen_and_takes_new_names(ctx: Ctx) {
    let store = &ctx.store;
    assert_eq!(store.slos().await.unwrap(), []);
    store
        .upsert_slos(&[
            slo("b-latency", "Latency", 1_000),
            slo("a-avail", "Availability", 1_000),
        ])
        .await
        .unwrap();
    let mut renamed = slo("a-avail", "Checkout availability", 5_000);
    renamed.service = "payments".to_string();
    store
        .upsert_slos(&[renamed, slo("c-new", "New", 5_000)])
        .await
        .unwrap();
    store.upsert_slos(&[]).await.unwrap();

    let mut expected_a = slo("a-avail", "Checkout availability", 1_000);
    expected_a.service = "payments".to_string();
    assert_eq!(
        store.slos().await.unwrap(),
        [
            expected_a,
            slo("b-latency", "Latency", 1_000),
            slo("c-new", "New", 5_000)
        ]
    );
}
