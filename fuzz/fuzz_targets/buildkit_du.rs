#![no_main]
use container_doctor::parse::buildkit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = buildkit::du_verbose(&text);
    let _ = buildkit::du_table(&text);
    let _ = buildkit::du_total(&text);
    let _ = container_doctor::units::human_size(&text);
});
