//! Support bundles: a round trip on this machine gives the same verdicts; planted secrets of many
//! shapes appear nowhere in the archive; a secret slipped past redaction makes the final scan
//! refuse; broken, hostile and foreign archives get a clear error and nothing is written.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{assert_success, doctor, doctor_isolated, doctor_path};
use container_doctor::bundle;
use serde_json::Value;

fn export(dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    doctor()
        .current_dir(dir)
        .args(["bundle", "-o", name])
        .args(extra)
        .output()
        .unwrap()
}

/// Exports a bundle of this machine as seen from the test's own mount and PID namespaces, so
/// that other processes, containers and mounts on the machine cannot change the round trip.
fn export_isolated(dir: &Path, name: &str) -> std::process::Output {
    doctor_isolated(&["bundle", "-o", name])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Status, summary and evidence of each check; "(recorded)" marks what a replay could not redo.
fn verdicts(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string()
                    + " "
                    + &c["summary"].as_str().unwrap().replace(" (recorded)", ""),
                c["evidence"].to_string().replace(", recorded", ""),
            )
        })
        .collect()
}

#[test]
fn round_trip_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let out = export_isolated(dir.path(), "b.tar.gz");
    assert_success(&out);
    let path = dir.path().join("b.tar.gz");
    let mode = fs::metadata(&path).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let (manifest, records, report) = bundle::read(&path).unwrap();
    assert_eq!(manifest.schema_version, bundle::SCHEMA_VERSION);
    assert!(records.len() > 20);
    let exported: Value = serde_json::from_str(&report).unwrap();

    let replay = doctor()
        .arg("--from-bundle")
        .arg(&path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let replayed: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(verdicts(&exported), verdicts(&replayed));
    assert!(
        replayed["host"]["source"]
            .as_str()
            .unwrap()
            .starts_with("bundle:")
    );
    assert!(
        replayed["checks"].to_string().contains("(recorded)"),
        "live-only probes say so"
    );

    // Fixes are disabled in replay; an existing file is never overwritten.
    let fix = doctor()
        .arg("--from-bundle")
        .arg(&path)
        .args(["fix", "tmp-tmpfs", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(fix.status.code(), Some(2));
    let again = export(dir.path(), "b.tar.gz", &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

// Planted secrets of every shape: see redteam.rs (generated at run time, never committed).

#[test]
fn a_secret_that_slips_past_redaction_is_caught_by_the_final_scan() {
    let dir = tempfile::tempdir().unwrap();
    let out = doctor()
        .current_dir(dir.path())
        .env(
            "CONTAINER_DOCTOR_TEST_UNREDACTED",
            "export API_TOKEN=slipped-through-1234",
        )
        .args(["bundle", "-o", "slip.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused: secret-looking content survived redaction"),
        "{err}"
    );
    assert!(
        err.contains("/test/planted") && err.contains("secret value"),
        "{err}"
    );
    assert!(
        !err.contains("slipped-through-1234"),
        "the value is never printed"
    );
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[test]
fn broken_and_hostile_archives() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar.gz");
    assert!(export(dir.path(), "good.tar.gz", &[]).status.success());
    let bytes = fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.tar.gz", bytes[..bytes.len() / 2].to_vec()),
        ("notgzip.tar.gz", b"this is not a gzip stream".to_vec()),
        ("empty.tar.gz", Vec::new()),
        ("corrupt.tar.gz", {
            let mut b = bytes.clone();
            let mid = b.len() / 3;
            b[mid..mid + 64].iter_mut().for_each(|x| *x ^= 0x5a);
            b
        }),
    ];
    for (name, data) in &cases {
        fs::write(dir.path().join(name), data).unwrap();
    }
    // A tar.gz whose entry climbs out of the bundle, and one with a foreign schema.
    let evil = dir.path().join("evil.tar.gz");
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import tarfile,io,sys\n\
             t=tarfile.open(sys.argv[1],'w:gz')\n\
             for n,d in [('../escape.txt',b'x'),('manifest.json',b'{}')]:\n\
             \ti=tarfile.TarInfo(n); i.size=len(d); t.addfile(i,io.BytesIO(d))\n\
             t.close()",
        )
        .arg(&evil)
        .status()
        .unwrap();
    assert!(status.success());
    let newer = dir.path().join("newer.tar.gz");
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import tarfile,io,sys\n\
             t=tarfile.open(sys.argv[1],'w:gz')\n\
             for n,d in [('manifest.json',b'{\"schema_version\": 99}'),('report.json',b'{}'),('records.json',b'[]')]:\n\
             \ti=tarfile.TarInfo(n); i.size=len(d); t.addfile(i,io.BytesIO(d))\n\
             t.close()",
        )
        .arg(&newer)
        .status()
        .unwrap();
    assert!(status.success());
    let before: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for name in [
        "truncated.tar.gz",
        "notgzip.tar.gz",
        "empty.tar.gz",
        "corrupt.tar.gz",
        "evil.tar.gz",
        "newer.tar.gz",
        "missing.tar.gz",
    ] {
        let out = Command::new(doctor_path())
            .args(["--timeout", crate::common::SCAN_TIMEOUT])
            .current_dir(dir.path())
            .args(["--from-bundle", name, "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("container-doctor: ") && err.contains(name),
            "{name}: {err}"
        );
        assert!(out.stdout.is_empty(), "{name}");
    }
    let err = String::from_utf8_lossy(
        &Command::new(doctor_path())
            .args(["--timeout", crate::common::SCAN_TIMEOUT])
            .current_dir(dir.path())
            .args(["--from-bundle", "evil.tar.gz"])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(err.contains("points outside the bundle"), "{err}");
    let err = String::from_utf8_lossy(
        &Command::new(doctor_path())
            .args(["--timeout", crate::common::SCAN_TIMEOUT])
            .current_dir(dir.path())
            .args(["--from-bundle", "newer.tar.gz"])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(
        err.contains("made by a newer container-doctor (bundle schema 99"),
        "{err}"
    );
    let after: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing was written");
    assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
}

#[test]
fn anonymized_bundles_hide_the_host_name() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        export(dir.path(), "a.tar.gz", &["--anonymize"])
            .status
            .success()
    );
    let (manifest, records, report) = bundle::read(&dir.path().join("a.tar.gz")).unwrap();
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    assert!(manifest.anonymized);
    assert_eq!(manifest.host.hostname.as_deref(), Some("host-1"));
    let records = serde_json::to_string(&records).unwrap();
    if hostname.len() > 3 {
        assert!(
            !records.contains(&format!("\"{hostname}"))
                && !report.contains(&format!("\"{hostname}\""))
        );
    }
}

/// Rewrites the bundle `from` into `to` with the day it recorded replaced by `day` (`None`: no
/// day recorded, as a schema-1 bundle), its checksum kept right: a hand-edited bundle.
fn with_day(from: &Path, to: &Path, day: Option<&str>) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import hashlib,io,json,sys,tarfile\n\
             src,dst,day=sys.argv[1],sys.argv[2],sys.argv[3:]\n\
             t=tarfile.open(src)\n\
             files={m.name: t.extractfile(m).read() for m in t.getmembers()}\n\
             recs=json.loads(files['records.json'])\n\
             man=json.loads(files['manifest.json'])\n\
             today=[r for r in recs if r['request']=={'op':'today'}]\n\
             assert today, 'no day recorded'\n\
             if day: today[0]['answer']['Ok']['value']=day[0]\n\
             else: recs=[r for r in recs if r['request']!={'op':'today'}]; man['schema_version']=1\n\
             files['records.json']=json.dumps(recs).encode()\n\
             for f in man['files']:\n\
             \tif f['name'] in files: f['sha256']=hashlib.sha256(files[f['name']]).hexdigest(); f['bytes']=len(files[f['name']])\n\
             files['manifest.json']=json.dumps(man).encode()\n\
             o=tarfile.open(dst,'w:gz')\n\
             for n,d in files.items():\n\
             \ti=tarfile.TarInfo(n); i.size=len(d); i.mode=0o600; o.addfile(i,io.BytesIO(d))\n\
             o.close()",
        )
        .arg(from)
        .arg(to)
        .args(day)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Dated rows (an end of life) are judged by the day a bundle was made: its replay says the same,
/// a bundle without a day (schema 1) or with one that is no date says the day is unknown.
#[test]
fn a_bundle_is_judged_by_its_own_day_or_says_it_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let out = doctor()
        .current_dir(dir.path())
        .args(["--only", "runtime-versions", "bundle", "-o", "b.tar.gz"])
        .output()
        .unwrap();
    assert_success(&out);
    let replay = |name: &str| -> Value {
        let out = doctor()
            .args([
                "--format",
                "json",
                "--only",
                "runtime-versions",
                "--from-bundle",
            ])
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let day = |report: &Value| -> Option<String> {
        let c = &report["checks"][0];
        assert_eq!(c["id"], "runtime-versions");
        c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["source"] == "today's date")
            .map(|e| e["excerpt"].as_str().unwrap().to_string())
    };
    let made = replay("b.tar.gz");
    assert_eq!(day(&made), None, "the day is known: {made:#}");
    let recorded: Value = {
        let f = fs::File::open(dir.path().join("b.tar.gz")).unwrap();
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(f));
        let e = t
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().to_str() == Some("report.json"))
            .unwrap();
        serde_json::from_reader(e).unwrap()
    };
    let ours = |v: Vec<(String, String, String)>| -> Vec<_> {
        v.into_iter()
            .filter(|c| c.0 == "runtime-versions")
            .collect()
    };
    assert_eq!(ours(verdicts(&made)), ours(verdicts(&recorded)));

    with_day(
        &dir.path().join("b.tar.gz"),
        &dir.path().join("old.tar.gz"),
        None,
    );
    let old = day(&replay("old.tar.gz")).unwrap_or_default();
    assert!(
        old.starts_with("unknown: ") && old.contains("not in the bundle"),
        "{old}"
    );
    for bad in ["zzzz", "", "2026-1-5"] {
        with_day(
            &dir.path().join("b.tar.gz"),
            &dir.path().join("bad.tar.gz"),
            Some(bad),
        );
        let said = day(&replay("bad.tar.gz")).unwrap_or_default();
        assert!(
            said.starts_with("unknown: ") && said.contains(&format!("{bad:?}")),
            "{bad:?}: {said}"
        );
    }
}
