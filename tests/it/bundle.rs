//! Support bundles: a round trip on this machine gives the same verdicts; planted secrets of many
//! shapes appear nowhere in the archive; a secret slipped past redaction makes the final scan
//! refuse; broken, hostile and foreign archives get a clear error and nothing is written.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{doctor, doctor_isolated, doctor_path};
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

#[test]
fn planted_secrets_appear_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
        "ghp_plantedGithubToken1234567890",
        "glpat-plantedGitlabToken",
        "sup3r-secret-db-pass",
        "azure-client-secret-value-42",
        "gcp-api-key-AIzaPlanted",
        "cli-password-hunter2",
        "cli-token-abcdef",
        "url-pass-s3cr3t",
        "dockerauthYm9iOnNlY3JldA",
        "identity-token-xyz",
        "buildkit-registry-pass",
        "daemon-mirror-pass",
        "bearer-token-eyJhbGciOi",
        "MIIEpQIBAAKCAQEAplantedPemBody",
        "npm-token-planted-npm",
        "vault-token-s.planted",
        "slack-webhook-secret-planted",
        "stripe-api-key-sk_live_planted",
        "private-key-passphrase-planted",
    ];
    // A process with secrets in its environment and command line.
    let mut holder = Command::new("sh")
        .args([
            "-c",
            "sleep 300; :",
            "sh",
            "--password=cli-password-hunter2",
            "--token",
            "cli-token-abcdef",
        ])
        .env("AWS_ACCESS_KEY_ID", secrets[0])
        .env("AWS_SECRET_ACCESS_KEY", secrets[1])
        .env("GITHUB_TOKEN", secrets[2])
        .env("GITLAB_TOKEN", secrets[3])
        .env("DB_PASSWORD", secrets[4])
        .env("AZURE_CLIENT_SECRET", secrets[5])
        .env("GOOGLE_API_KEY", secrets[6])
        .env("NPM_TOKEN", secrets[16])
        .env("VAULT_TOKEN", secrets[17])
        .env("SLACK_WEBHOOK_SECRET", secrets[18])
        .env("STRIPE_API_KEY", secrets[19])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Files a user includes: docker config, buildkitd.toml, daemon.json, a log with a PEM key.
    let inc = dir.path().join("include");
    fs::create_dir_all(inc.join(".docker")).unwrap();
    fs::write(
        inc.join(".docker/config.json"),
        format!(
            "{{\"auths\": {{\"registry.example.com\": {{\"auth\": \"{}\", \"identitytoken\": \"{}\"}}}}, \"credHelpers\": {{\"gcr.io\": \"gcloud\"}}}}",
            secrets[10], secrets[11]
        ),
    )
    .unwrap();
    fs::write(
        inc.join("buildkitd.toml"),
        format!(
            "[registry.\"r.example.com\"]\n  http = true\n  password = \"{}\"\n",
            secrets[12]
        ),
    )
    .unwrap();
    fs::write(
        inc.join("daemon.json"),
        format!(
            "{{\"registry-mirrors\": [\"https://mirror:{}@mirror.example.com\"]}}",
            secrets[13]
        ),
    )
    .unwrap();
    fs::write(
        inc.join("criu.log"),
        format!(
            "pulled https://bob:{}@registry.example.com/v2/\nAuthorization: Bearer {}\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\nPRIVATE_KEY_PASSPHRASE={}\n",
            secrets[9], secrets[14], secrets[15], secrets[20]
        ),
    )
    .unwrap();
    let out = export(
        dir.path(),
        "s.tar.gz",
        &["--include-dir", &inc.to_string_lossy()],
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("s.tar.gz");

    // The raw gzip stream, the unpacked files, and every decoded record: none holds a secret.
    let raw = fs::read(&path).unwrap();
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut unpacked)
        .unwrap_or(0);
    let (manifest, records, report) = bundle::read(&path).unwrap();
    let decoded = serde_json::to_string(&records).unwrap();
    let unpack_dir = dir.path().join("unpacked");
    fs::create_dir(&unpack_dir).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&path)
        .arg("-C")
        .arg(&unpack_dir)
        .status()
        .unwrap();
    assert!(tar.success());
    for s in secrets {
        assert!(
            !raw.windows(s.len()).any(|w| w == s.as_bytes()),
            "{s} in the raw archive"
        );
        assert!(!unpacked.contains(s), "{s} in the unpacked archive");
        assert!(
            !decoded.contains(s) && !report.contains(s),
            "{s} in the records"
        );
        let grep = Command::new("grep")
            .args(["-rqF", s])
            .arg(&unpack_dir)
            .status()
            .unwrap();
        assert!(!grep.success(), "grep found {s} in the unpacked tree");
    }
    assert!(
        manifest.redacted >= secrets.len(),
        "{} redactions",
        manifest.redacted
    );
    // What is not secret survives: the included files are there, redacted.
    assert!(decoded.contains("credHelpers") && decoded.contains("registry-mirrors"));
    assert!(decoded.contains("<redacted>"));
}

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
