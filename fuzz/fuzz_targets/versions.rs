#![no_main]
use container_doctor::parse::version::Version;
use container_doctor::parse::{go_version, oci_runtime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Ordering must be total and consistent with itself on whatever parses.
    let words: Vec<Version> = text.split_whitespace().filter_map(Version::parse).collect();
    for w in words.windows(2) {
        assert_eq!(w[0].cmp(&w[1]), w[1].cmp(&w[0]).reverse());
        let _ = w[0].upstream();
    }
    let _ = oci_runtime::parse(&text);
    let _ = go_version::parse(&text);
});
