#![no_main]
use container_doctor::parse::criu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = criu::parse_version(&text);
    let _ = criu::parse_check(&text);
});
