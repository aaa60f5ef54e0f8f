//! The native nines format (`version: nines/v1`).

use crate::{LoadContext, SourceDoc};

#[derive(Debug, Default)]
pub struct Pending {}

pub fn read(doc: &SourceDoc, context: &mut LoadContext) {
    context.report.push(doc.error("", "nines/v1 is not read yet"));
}

pub fn finish(_context: &mut LoadContext) {}
