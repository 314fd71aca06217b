#![no_main]
use container_doctor::parse::{containerd, overlay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = containerd::config(&text);
    let _ = containerd::task_list(&text);
    let _ = containerd::refused_socket(&text);
    let _ = containerd::task_name(&text);
    for line in text.lines() {
        let argv: Vec<String> = line.split(' ').map(str::to_string).collect();
        let _ = containerd::daemon_args(&argv);
        let _ = containerd::shim_args(&argv);
        let _ = containerd::bundle(line);
        let _ = containerd::temp_mount(line);
        let _ = overlay::owner(line, &overlay::layers(line));
    }
});
