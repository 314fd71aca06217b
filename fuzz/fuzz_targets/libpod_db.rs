#![no_main]
//! libpod's database reader (BoltDB pages) over arbitrary bytes: as they come, and as the pages
//! after two meta pages written here with valid checksums (512-byte pages, the first byte picks
//! the root page), so the fuzzer's bytes reach the branch and leaf pages instead of stopping at
//! the meta checksum.
use container_doctor::parse::libpod;
use libfuzzer_sys::fuzz_target;

const PAGE: usize = 512;

/// A bbolt meta page (db.go: magic, version 2, page size, flags, root bucket, freelist, high-water
/// mark, txid, FNV-1a checksum of what precedes it).
fn meta(id: u64, root: u64, high_water: u64, txid: u64) -> Vec<u8> {
    let mut m = id.to_le_bytes().to_vec();
    m.extend([4, 0, 0, 0, 0, 0, 0, 0]);
    m.extend(0xED0C_DAEDu32.to_le_bytes());
    m.extend(2u32.to_le_bytes());
    m.extend((PAGE as u32).to_le_bytes());
    m.extend(0u32.to_le_bytes());
    m.extend(root.to_le_bytes());
    m.extend(0u64.to_le_bytes());
    m.extend(2u64.to_le_bytes());
    m.extend(high_water.to_le_bytes());
    m.extend(txid.to_le_bytes());
    let sum = m[16..].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    m.extend(sum.to_le_bytes());
    m.resize(PAGE, 0);
    m
}

fuzz_target!(|data: &[u8]| {
    let _ = libpod::read(data);
    let Some((&pick, pages)) = data.split_first() else {
        return;
    };
    let count = pages.len().div_ceil(PAGE) as u64;
    if count == 0 {
        return;
    }
    // Page 2 onwards are the input; the root is one of them.
    let root = 2 + u64::from(pick) % count;
    let mut file = meta(0, root, 2 + count, 1);
    file.extend(meta(1, root, 2 + count, 2));
    file.extend(pages);
    let _ = libpod::read(file.as_slice());
});
