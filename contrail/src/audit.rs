//! `audit`'s text output: one block per partition, what an operator reads first (gaps, mismatches) first.

use std::fmt::Write as _;

use contrail_shared::ledger::{OffsetSpan, PartitionAudit};

/// The partition's audit as a few lines of text.
pub fn describe(a: &PartitionAudit) -> String {
    let mut s = String::new();
    let verdict = if a.is_consistent() { "ok" } else { "FAILED" };
    let _ = writeln!(s, "{}-{}: {verdict}", a.topic, a.partition);
    let _ = writeln!(s, "  covered      {}", spans(&a.covered));
    let _ = writeln!(s, "  gaps         {} ({} offsets)", spans(&a.gaps), a.gap_offsets());
    let _ = writeln!(s, "  redelivered  {}", spans(&a.redelivered));
    for m in &a.mismatches {
        let _ = writeln!(
            s,
            "  mismatch     {}..={} ({}): ledger {} records, topic {}",
            m.first_offset, m.last_offset, m.kind, m.ledger_records, m.topic_records
        );
    }
    let _ = write!(
        s,
        "  batches {}, records {}: stored {}, duplicates {}, dead-lettered {}",
        a.batches, a.records, a.stored, a.duplicates, a.dead_lettered
    );
    if let Some(k) = &a.kafka {
        let _ = write!(
            s,
            "\n  topic: watermarks {}..{}, {} records; {} ranges verified, {} compacted since, {} not yet consumed",
            k.low_watermark, k.high_watermark, k.records, k.verified, k.compacted, k.pending
        );
    }
    s
}

fn spans(list: &[OffsetSpan]) -> String {
    if list.is_empty() {
        return "none".to_owned();
    }
    list.iter().map(|s| format!("{}..={}", s.first_offset, s.last_offset)).collect::<Vec<_>>().join(", ")
}
