//! Notification delivery (placeholder until the outbox worker lands).

use nines_spec::catalog::Channel;
use nines_store::OutboxRow;

use crate::evaluator::Notice;

pub fn outbox_rows(_notice: &Notice, _channels: &[Channel], _now_ms: i64) -> Vec<OutboxRow> {
    Vec::new()
}
