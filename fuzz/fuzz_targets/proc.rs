#![no_main]
use container_doctor::parse::{cgroup, proc_maps, proc_stat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = proc_stat::parse(&text);
    let _ = proc_stat::uptime_seconds(&text);
    let _ = proc_maps::mapped_files(&text);
    let lines = cgroup::parse_memberships(&text);
    let _ = cgroup::mode_of_memberships(&lines);
    for l in &lines {
        let _ = cgroup::container_of(&l.path);
    }
    let _ = cgroup::parse_subsystems(&text);
    let _ = cgroup::parse_freezer_state(&text);
    let _ = cgroup::parse_events(&text);
});
