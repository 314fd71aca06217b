#![no_main]
use container_doctor::parse::kconfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = kconfig::inflate(data, 1 << 20) {
        let c = kconfig::parse(&text);
        let _ = c.get("OVERLAY_FS");
        let _ = kconfig::module_paths(&text);
        let _ = kconfig::loaded_modules(&text);
    }
});
