//! The red-team suite: secrets planted where real hosts keep them (environments and command lines
//! of real processes, a real container on the test's own engine, config files, an --include-dir
//! tree with key files, netrc, kubeconfig, a secret in a file name, a Dockerfile), every one a
//! random marker generated now in its real format. The archive is searched raw, and for each
//! marker's base64 and URL-encoded forms: none may remain. The same search runs over
//! `--check` in every report format (fix plans carry a Dockerfile's content).
//!
//! Nothing secret-looking is written in this file: every prefix is put together at run time.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Child, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::common::dockerd::Dockerd;
use crate::common::{SCAN_TIMEOUT, assert_success, doctor, doctor_path, require_root};
use container_doctor::bundle;

/// `n` random characters of `alphabet`, from the kernel's generator.
fn random(n: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap();
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn alnum(n: usize) -> String {
    random(n, ALNUM)
}

/// The planted secrets by a name for the place they went, each unique.
struct Plant(BTreeMap<String, String>);

impl Plant {
    fn add(&mut self, place: &str, value: String) -> String {
        assert!(
            self.0
                .values()
                .all(|v| !v.contains(&value) && !value.contains(v.as_str())),
            "markers are distinct"
        );
        self.0.insert(place.to_string(), value.clone());
        value
    }
}

fn gh() -> String {
    format!("{}{}", ["gh", "p_"].concat(), alnum(36))
}
fn gh_fine() -> String {
    format!(
        "{}{}_{}",
        ["github", "_pat_"].concat(),
        alnum(22),
        alnum(59)
    )
}
fn gitlab() -> String {
    format!("{}{}", ["gl", "pat-"].concat(), alnum(20))
}
fn slack() -> String {
    format!(
        "{}{}-{}-{}",
        ["xo", "xb-"].concat(),
        random(12, b"0123456789"),
        random(12, b"0123456789"),
        alnum(24)
    )
}
fn akia() -> String {
    format!("{}{}", ["AK", "IA"].concat(), random(16, UPPER))
}
fn aws_secret() -> String {
    // Mixed case and digits for sure, 40 characters.
    format!(
        "aB3{}",
        random(
            37,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
        )
    )
}
fn stripe() -> String {
    format!("{}{}", ["sk", "_live_"].concat(), alnum(24))
}
fn google() -> String {
    format!("{}{}", ["AI", "za"].concat(), alnum(35))
}
fn npm() -> String {
    format!("{}{}", ["np", "m_"].concat(), alnum(36))
}
fn jwt() -> String {
    let b = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b(format!("{{\"alg\":\"HS256\",\"kid\":\"{}\"}}", alnum(8))),
        b(format!("{{\"sub\":\"{}\",\"iat\":1700000000}}", alnum(16))),
        alnum(43)
    )
}
fn key_block(kind: &str) -> (String, String) {
    let body: String = (0..6).map(|_| format!("{}\n", alnum(64))).collect();
    let marker = body.lines().nth(2).unwrap_or_default().to_string();
    let label = if kind == "PGP" {
        "PGP PRIVATE KEY BLOCK".to_string()
    } else {
        format!("{kind} {}", ["PRIVATE", "KEY"].join(" "))
            .trim()
            .to_string()
    };
    (
        format!(
            "-----{} {label}-----\n{body}-----{} {label}-----\n",
            "BEGIN", "END"
        ),
        marker,
    )
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Forms a marker can hide in: itself, base64 at each of three alignments (the stable middle),
/// and URL-encoded.
fn forms(marker: &str) -> Vec<String> {
    let mut out = vec![marker.to_string(), url_encode(marker)];
    for pad in ["", "x", "xy"] {
        let enc = STANDARD.encode(format!("{pad}{marker}"));
        let skip = if pad.is_empty() { 0 } else { 4 };
        let core: String = enc
            .chars()
            .skip(skip)
            .take(enc.len().saturating_sub(skip + 4))
            .collect();
        if core.len() >= 12 {
            out.push(core);
        }
    }
    out
}

/// Where each planted marker (by place) still appears in `haystack`, in any form.
fn leaks(plant: &Plant, haystack: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, marker) in &plant.0 {
        for f in forms(marker) {
            if haystack.windows(f.len()).any(|w| w == f.as_bytes()) {
                found.push(place.clone());
                break;
            }
        }
    }
    found
}

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn planted_secrets_appear_nowhere_in_a_bundle_or_any_report_format() {
    if !require_root() {
        return;
    }
    let mut p = Plant(BTreeMap::new());
    let dir = tempfile::tempdir().unwrap();
    let mut children = Kill(Vec::new());
    // The test's own engine, in a mount and PID namespace of its own; the planted processes and
    // the doctor run there too, so the doctor sees them and nothing else that runs on the machine
    // (declared after `children`, it is dropped first: its namespace ends with it).
    let engine = Dockerd::start_isolated();

    // 1. Environments of a real process.
    let env: Vec<(&str, String)> = vec![
        ("GITHUB_TOKEN", p.add("env GITHUB_TOKEN", gh())),
        ("GITLAB_TOKEN", p.add("env GITLAB_TOKEN", gitlab())),
        ("SLACK_BOT", p.add("env SLACK_BOT", slack())),
        ("AWS_ACCESS_KEY_ID", p.add("env AWS_ACCESS_KEY_ID", akia())),
        (
            "AWS_SECRET_ACCESS_KEY",
            p.add("env AWS_SECRET_ACCESS_KEY", aws_secret()),
        ),
        ("STRIPE", p.add("env STRIPE", stripe())),
        ("GOOGLE_MAPS", p.add("env GOOGLE_MAPS", google())),
        ("NPM_CONFIG", p.add("env NPM_CONFIG", npm())),
        ("SESSION", p.add("env SESSION jwt", jwt())),
        (
            "DATABASE_URL",
            format!(
                "postgres://app:{}@db:5432/x",
                p.add(
                    "env DATABASE_URL password with @",
                    format!("p@ss{}", alnum(12))
                )
            ),
        ),
        (
            "AZURE_STORAGE",
            format!(
                "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={}==;EndpointSuffix=core",
                p.add("env AZURE AccountKey", alnum(40))
            ),
        ),
        (
            "PLAIN_LOOKING",
            p.add("env a plain value under a plain name", alnum(18)),
        ),
        (
            "DOCKER_HOST",
            format!(
                "tcp://admin:{}@10.0.0.1:2376",
                p.add("env allowlisted DOCKER_HOST user-info", alnum(16))
            ),
        ),
    ];
    let sleeper_args = [
        format!(
            "--password={}",
            p.add("argv --password=X (not tooling)", alnum(14))
        ),
        "-p".into(),
        p.add("argv -p X (not tooling)", alnum(14)),
        "--token".into(),
        p.add("argv --token X (not tooling)", alnum(14)),
        p.add("argv bare word (not tooling)", alnum(14)),
    ];
    let mut sleeper = engine.enter("sh");
    sleeper
        .args(["-c", "echo $$ && exec sleep 600", "sh"])
        .args(&sleeper_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    for (k, v) in &env {
        sleeper.env(k, v);
    }
    let mut sleeper = sleeper.spawn().unwrap();
    // Its pid in the namespace, as the doctor sees it.
    let mut line = String::new();
    std::io::BufReader::new(sleeper.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sleeper_pid: u32 = line.trim().parse().expect("the sleeper's pid");
    children.0.push(sleeper);

    // 2. A command line that claims to be container tooling: kept, secret flags emptied.
    let tool_args = [
        "login".to_string(),
        "-p".into(),
        p.add("docker login -p X", alnum(14)),
        format!("-p{}", p.add("docker login -pX", alnum(14))),
        "-u".into(),
        format!("bob:{}", p.add("-u user:X", alnum(14))),
        format!("--password={}", p.add("tool --password=X", alnum(14))),
        "--registry-token".into(),
        p.add("tool --registry-token X", alnum(14)),
        "-e".into(),
        format!("API_SECRET={}", p.add("tool -e NAME=X", alnum(14))),
        "--creds".into(),
        format!("svc:{}", p.add("tool --creds user:X", alnum(14))),
    ];
    let python = "import time; time.sleep(600)";
    let mut tool = engine.enter("bash");
    tool.args(["-c", "exec -a docker python3 -c \"$0\" \"$@\"", python])
        .args(&tool_args)
        .stdin(Stdio::null());
    children.0.push(tool.spawn().unwrap());

    // 3. A real container on the test's own engine: env, args, labels.
    engine.import_busybox("redteam-busybox:test");
    let c_env = p.add("container env SECRET_A", alnum(16));
    let c_env_url = p.add("container env URL user-info", alnum(16));
    let c_plain = p.add("container env plain name", alnum(16));
    let c_arg = p.add("container args --token X", alnum(16));
    let c_arg2 = p.add("container args bare", alnum(16));
    let c_label = p.add("container label *.token", alnum(16));
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "redteam",
        "-e",
        &format!("SECRET_A={c_env}"),
        "-e",
        &format!("REGISTRY=https://ci:{c_env_url}@registry.example"),
        "-e",
        &format!("HARMLESS={c_plain}"),
        "--label",
        &format!("com.example.token={c_label}"),
        "redteam-busybox:test",
        "sh",
        "-c",
        "sleep 600",
        "sh",
        "--token",
        &c_arg,
        &c_arg2,
    ]);

    // 4. Files: an --include-dir tree.
    let inc = dir.path().join("include");
    let auth_pass = p.add("docker config auth (base64 user:pass)", alnum(14));
    write(
        &inc,
        ".docker/config.json",
        &format!(
            "{{\"auths\": {{\"registry.example\": {{\"auth\": \"{}\", \"identitytoken\": \"{}\"}}, \"https://u:{}@r2.example\": {{}}}}, \"credHelpers\": {{\"gcr.io\": \"gcloud\"}}}}",
            STANDARD.encode(format!("bob:{auth_pass}")),
            p.add("docker config identitytoken", alnum(20)),
            p.add("docker config user-info in a key", alnum(14)),
        ),
    );
    write(
        &inc,
        "buildkitd.toml",
        &format!(
            "[registry.\"r.example\"]\n  http = true\n  password = \"{}\"\n  # token: {}\n",
            p.add("buildkitd.toml password", alnum(16)),
            p.add("buildkitd.toml comment", gh()),
        ),
    );
    write(
        &inc,
        "daemon.json",
        &format!(
            "{{\"registry-mirrors\": [\"https://mirror:{}@mirror.example\"], \"proxies\": {{\"http-proxy\": \"http://p:{}@proxy:3128\"}}}}",
            p.add("daemon.json mirror user-info", alnum(14)),
            p.add("daemon.json proxy user-info", alnum(14)),
        ),
    );
    write(
        &inc,
        ".kube/config",
        &format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-key-data: {}\n    token: {}\n    auth-provider:\n      config:\n        id-token: {}\n    exec:\n      env:\n      - name: CLOUD_CREDENTIAL\n        value: {}\n",
            p.add("kubeconfig client-key-data", STANDARD.encode(alnum(48))),
            p.add("kubeconfig token", alnum(24)),
            p.add("kubeconfig id-token (JWT)", jwt()),
            p.add("kubeconfig exec env value", alnum(20)),
        ),
    );
    write(
        &inc,
        ".netrc",
        &format!(
            "machine one.example login bob password {}\nmachine two.example\n  login alice\n  password {}\n",
            p.add("netrc one line", alnum(14)),
            p.add("netrc multi-line", alnum(14)),
        ),
    );
    write(
        &inc,
        ".aws/credentials",
        &format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            p.add("aws credentials key id", akia()),
            p.add("aws credentials secret key", aws_secret()),
        ),
    );
    for (file, kind) in [
        ("id_ed25519", "OPENSSH"),
        ("server.key", "RSA"),
        ("signing.asc", "PGP"),
        ("pkcs8.pem", ""),
    ] {
        let (block, marker) = key_block(kind);
        p.add(&format!("private key block {file}"), marker);
        write(&inc, file, &format!("comment line\n{block}"));
    }
    write(
        &inc,
        "app.env",
        &format!(
            "export API_KEY=\"{} with spaces\"\nDB_PASS='{}'\nPASSWORD=first \\\n  {}\n",
            p.add("env file quoted with spaces", alnum(14)),
            p.add("env file single-quoted", alnum(14)),
            p.add("env file continued line", alnum(14)),
        ),
    );
    write(
        &inc,
        "values.yaml",
        &format!(
            "db:\n  password: |\n    {}\n    second line\n  secret: >-\n    {}\n  token: \"{}\"\n  passphrase: first\n    {}\n",
            p.add("yaml block scalar |", alnum(14)),
            p.add("yaml folded scalar >-", alnum(14)),
            p.add("yaml quoted", alnum(14)),
            p.add("yaml plain continued", alnum(14)),
        ),
    );
    let b64_token = p.add("base64-wrapped GitHub token", gh());
    write(
        &inc,
        "notes.log",
        &format!(
            "GET /v2/ Authorization: Bearer {}\npulled https://bob:{}@registry.example/v2/\nDefaultEndpointsProtocol=https;AccountName=a;AccountKey={}==\nEndpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey={}=\nblob {}\nq=password%3D{}\nstray {} {} {} {} {} {} {} {}\n",
            p.add("log bearer token", alnum(32)),
            p.add("log URL password with @", format!("p@{}", alnum(12))),
            p.add("log Azure AccountKey", alnum(40)),
            p.add("log Azure SharedAccessKey", alnum(40)),
            STANDARD.encode(format!("token={b64_token}")),
            p.add("log URL-encoded password", alnum(14)),
            p.add("log GitHub classic", gh()),
            p.add("log GitHub fine-grained", gh_fine()),
            p.add("log GitLab", gitlab()),
            p.add("log Slack", slack()),
            p.add("log Stripe", stripe()),
            p.add("log Google", google()),
            p.add("log npm", npm()),
            p.add("log JWT", jwt()),
        ),
    );
    let in_name = p.add("secret in a file name", gh());
    write(&inc, &format!("tokens/{in_name}.txt"), "harmless\n");
    let dockerfile = inc.join("Dockerfile");
    write(
        &inc,
        "Dockerfile",
        &format!(
            // Two stages running apt on one unlocked cache (moby/buildkit#1662): the check offers
            // a rewrite whose plan carries the whole file, secrets included unless redacted.
            "FROM debian AS base\nENV NPM_TOKEN={}\nARG GITHUB_TOKEN={}\n\
             FROM base AS a\nRUN --mount=type=cache,target=/var/cache/apt apt-get update\n\
             FROM base AS b\nRUN --mount=type=cache,target=/var/cache/apt apt-get update\n\
             FROM scratch\nCOPY --from=a / /a\nCOPY --from=b / /b\n",
            p.add("Dockerfile ENV", alnum(16)),
            p.add("Dockerfile ARG", gh()),
        ),
    );
    assert!(p.0.len() >= 60, "{} planted", p.0.len());

    // The planted values are really where they were put.
    let on_host = crate::common::dockerd::inner_pid(children.0[0].id());
    let environ = fs::read(format!("/proc/{on_host}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains(&env[0].1));
    let inspect = engine.ok(&["inspect", "redteam"]);
    assert!(inspect.contains(&c_env) && inspect.contains(&c_arg));

    // The bundle.
    let out = engine
        .enter(doctor_path())
        .env_remove("NO_COLOR")
        .env_remove("TMPDIR")
        .env("DOCKER_HOST", engine.docker_host())
        .args(["--timeout", SCAN_TIMEOUT, "bundle", "-o"])
        .arg(dir.path().join("rt.tar.gz"))
        .arg("--include-dir")
        .arg(&inc)
        .arg("--dockerfile")
        .arg(&dockerfile)
        .output()
        .unwrap();
    assert_success(&out);
    let path = dir.path().join("rt.tar.gz");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(&path).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let (manifest, records, report) = bundle::read(&path).unwrap();
    let decoded = serde_json::to_string(&records).unwrap();
    let mut all = tar.clone();
    all.extend_from_slice(decoded.as_bytes());
    all.extend_from_slice(report.as_bytes());
    let left = leaks(&p, &all);
    if !left.is_empty() {
        // Kept for a look: which record still holds it.
        let _ = fs::copy(&path, "/tmp/container-doctor-redteam-failed.tar.gz");
        for (place, marker) in &p.0 {
            if left.contains(place) {
                for r in &records {
                    if serde_json::to_string(r).unwrap().contains(marker.as_str()) {
                        eprintln!("{place}: in {}", serde_json::to_string(&r.request).unwrap());
                    }
                }
            }
        }
    }
    assert!(
        left.is_empty(),
        "{} of {} planted secrets remain in the bundle: {left:#?}",
        left.len(),
        p.0.len()
    );

    // It was all collected: names kept, values gone, the files and the container are there.
    assert!(decoded.contains(&format!("/proc/{sleeper_pid}/environ")));
    assert!(
        decoded.contains("GITHUB_TOKEN=<redacted>") && decoded.contains("PLAIN_LOOKING=<redacted>")
    );
    assert!(
        decoded.contains("credHelpers")
            && decoded.contains("buildkitd.toml")
            && decoded.contains("id_ed25519")
    );
    assert!(
        decoded.contains("SECRET_A=<redacted>"),
        "the container's env was collected"
    );
    assert!(
        decoded.contains("tokens/<redacted>.txt"),
        "the file name was redacted, not dropped"
    );
    assert!(
        manifest.redacted >= p.0.len(),
        "{} redactions",
        manifest.redacted
    );
    let listed = doctor()
        .args(["bundle", "--list"])
        .arg(&path)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("redactions: ") && listed.contains("environment value"),
        "{listed}"
    );
    assert!(leaks(&p, listed.as_bytes()).is_empty());

    // The same planted secrets against every report format (fix plans carry the Dockerfile;
    // evidence and tables quote what the checks saw; SARIF is uploaded, CI logs are public).
    let reports = dir.path().join("reports");
    let mut check = engine.enter(doctor_path());
    check
        .env_remove("NO_COLOR")
        .env_remove("TMPDIR")
        .env("DOCKER_HOST", engine.docker_host())
        .args(["--timeout", SCAN_TIMEOUT, "--check", "--verbose"]);
    for f in ["text", "json", "junit", "sarif", "github", "prometheus"] {
        check.args(["--format", f]);
    }
    let out = check
        .arg("--output-dir")
        .arg(&reports)
        .arg("--dockerfile")
        .arg(&dockerfile)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let json = fs::read_to_string(reports.join("report.json")).unwrap();
    assert!(
        json.contains("dockerfile-cache-mounts") && json.contains("sharing=locked"),
        "{json}"
    );
    let mut formats = 0;
    for file in fs::read_dir(&reports).unwrap() {
        let file = file.unwrap().path();
        let left = leaks(&p, &fs::read(&file).unwrap());
        assert!(
            left.is_empty(),
            "{} remain in {}: {left:#?}",
            left.len(),
            file.display()
        );
        formats += 1;
    }
    assert_eq!(formats, 6);
    println!("planted {} secrets; 0 remain", p.0.len());
}
