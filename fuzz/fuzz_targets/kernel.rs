#![no_main]
use container_doctor::parse::kernel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(k) = kernel::find_release(&text) {
        let _ = k.flavour();
        let _ = k.to_string();
    }
    let _ = kernel::upstream_version(&text);
});
