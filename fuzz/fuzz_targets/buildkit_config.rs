#![no_main]
use container_doctor::parse::buildkit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((_, workers)) = buildkit::buildkitd_toml(&text) {
        for w in workers {
            for r in w.rules.iter().chain(std::iter::once(&w.default)) {
                let _ = r.keep_bytes(i64::MAX / 2, 1 << 30, 1 << 40);
            }
        }
    }
    let _ = buildkit::daemon_json_builder(&text);
    let _ = buildkit::disk_space(&text);
    let _ = buildkit::duration(&text);
    let _ = container_doctor::units::ram_in_bytes(&text);
});
