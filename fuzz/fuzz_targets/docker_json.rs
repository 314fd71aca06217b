#![no_main]
use container_doctor::parse::{buildkit, docker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = docker::containers(&v);
        let _ = docker::merged_dir(&v);
        let _ = docker::version_components(&v);
        let _ = buildkit::docker_df_records(&v);
        let _ = buildkit::docker_df_summary(&v);
    }
});
