#![no_main]
use container_doctor::parse::{criu, packages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = packages::dpkg_version(&text, "criu") {
        let _ = criu::parse_bare_version(packages::upstream(&v));
    }
    let _ = packages::dpkg_list_has(&text, "/usr/sbin/criu");
    if let Some(packages::ApkPackage { version: v, .. }) =
        packages::apk_owner(&text, "/usr/sbin/criu")
    {
        let _ = criu::parse_bare_version(packages::upstream(&v));
    }
    let _ = criu::parse_bare_version(&text);
});
