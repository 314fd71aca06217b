#![no_main]
use container_doctor::parse::{mountinfo, overlay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let table = mountinfo::parse(&text);
    let _ = table.containing("/tmp");
    for m in &table.mounts {
        let _ = mountinfo::escape(&m.mount_point);
        let layers = overlay::layers(&m.super_options);
        let _ = overlay::owner(&m.mount_point, &layers);
    }
});
