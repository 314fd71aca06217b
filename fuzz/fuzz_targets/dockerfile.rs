#![no_main]
use container_doctor::parse::dockerfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let df = dockerfile::parse(&text);
    for a in 0..df.stages.len().min(32) {
        for b in 0..df.stages.len().min(32) {
            let _ = df.parallel(a, b);
        }
    }
});
