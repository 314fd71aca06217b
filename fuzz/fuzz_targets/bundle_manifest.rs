#![no_main]
use container_doctor::bundle::Manifest;
use container_doctor::host::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Manifest>(data);
    let _ = serde_json::from_slice::<Vec<Record>>(data);
    let text = String::from_utf8_lossy(data);
    let _ = container_doctor::bundle::redact::text(&text);
    let _ = container_doctor::bundle::redact::findings(&text);
});
