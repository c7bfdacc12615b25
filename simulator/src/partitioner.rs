//! Where a producer puts a record: Kafka's default partitioner, shared by the local stack's log and the
//! ingest benchmark's feed so both place a flight's records as a real producer would.

/// Kafka's default partitioner (murmur2 of the key, positive, modulo the partition count), so a
/// flight's records keep their order within one partition as they would on MSK.
pub fn partition_for(key: &[u8], partitions: u32) -> u32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioning_matches_kafkas_default_partitioner() {
        // The Java client's partitions for these keys over 1,000 partitions.
        let cases: [(&[u8], u32); 6] =
            [(b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)];
        for (key, partition) in cases {
            assert_eq!(partition_for(key, 1000), partition, "{key:?}");
        }
    }

    #[test]
    fn one_flight_always_lands_on_one_partition() {
        let key = b"UA1545-2013-01-01-EWR";
        let p = partition_for(key, 3);
        assert!(p < 3);
        for _ in 0..10 {
            assert_eq!(partition_for(key, 3), p);
        }
    }
}
