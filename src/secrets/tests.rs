//! Every planted value is built when the test runs: no secret-looking literal in the repository.

use super::*;

/// `prefix` followed by `n` characters of a fixed pseudo-random alphabet walk.
fn fake(prefix: &str, n: usize) -> String {
    let alphabet = b"aB3dE5fG7hJ9kLmN2pQr4StU6vWx8Yz";
    let mut x: usize = prefix.len() * 7 + n;
    let tail: String = (0..n)
        .map(|_| {
            x = (x * 1103515245 + 12345) % 2147483648;
            alphabet[x % alphabet.len()] as char
        })
        .collect();
    format!("{prefix}{tail}")
}

fn gone(input: &str, secret: &str) {
    let (out, t) = redact_text(input);
    assert!(!out.contains(secret), "{secret} survived in {out:?}");
    assert!(t.total() >= 1, "{input}");
    assert!(findings(&out).is_empty(), "{out:?}: {:?}", findings(&out));
    assert!(!findings(input).is_empty(), "{input}");
    // Idempotent: redacting twice changes nothing.
    assert_eq!(redact_text(&out).0, out);
}

#[test]
fn provider_tokens_and_free_text() {
    let gh = fake(&["gh", "p_"].concat(), 36);
    gone(&format!("clone with {gh} now"), &gh);
    let pat = fake(&["github", "_pat_"].concat(), 60);
    gone(&format!("x {pat} y"), &pat);
    let gl = fake(&["gl", "pat-"].concat(), 20);
    gone(&gl, &gl);
    let slack = fake(&["xo", "xb-"].concat(), 30);
    gone(&format!("slack={slack}"), &slack);
    let akia = format!("{}{}", ["AK", "IA"].concat(), "QWERTYUIOP234567");
    gone(&format!("id {akia} here"), &akia);
    let aws = fake("", 40);
    gone(&format!("{akia} {aws}"), &aws);
    let stripe = fake(&["sk", "_live_"].concat(), 24);
    gone(&format!("k:{stripe}"), &stripe);
    let google = fake(&["AI", "za"].concat(), 35);
    gone(&format!("key={google}"), &google);
    let npm = fake(&["np", "m_"].concat(), 36);
    gone(&format!("//registry/:_authToken {npm}"), &npm);
    let jwt = format!("eyJ{}.eyJ{}.{}", fake("", 20), fake("", 30), fake("", 20));
    gone(&format!("Authorization: Bearer {jwt}"), &jwt);
    let pass = format!("p@ss{}", fake("", 8));
    gone(
        &format!("url https://bob:{pass}@registry.example/v2/"),
        &pass,
    );
    let azure = fake("", 40);
    gone(
        &format!(
            "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={azure}==;EndpointSuffix=core"
        ),
        &azure,
    );
}

#[test]
fn key_values_in_every_form() {
    let v = fake("v", 12);
    for input in [
        format!("DB_PASSWORD={v}"),
        format!("password: \"{v} with spaces\""),
        format!("  api_key: {v} and more words"),
        format!("secret = '{v}'"),
        format!("export GITHUB_TOKEN={v}"),
        format!("registry --password={v} --user bob"),
        format!("login --token {v}"),
        format!("{{\"auth\": \"{v}\"}}"),
        format!("token: |\n  {v}\n  second line\nnext: 1"),
        format!("password: >-\n    {v}\nother: x"),
        format!("password = first \\\n  {v}"),
        format!("password: \"open\n{v}\"\nnext: 1"),
        format!("machine example.com\n  login bob\n  password {v}\n"),
    ] {
        gone(&input, &v);
    }
    let (out, _) = redact_text(&format!("token: |\n  {v}\nnext: 1"));
    assert!(out.ends_with("next: 1"), "{out}");
    assert_eq!(redact_text("PATH=/usr/bin:/bin HOME=/root").1.total(), 0);
    assert_eq!(
        redact_text("CONFIG_CRYPTO_AUTHENC=m\nCONFIG_KEYS=y")
            .1
            .total(),
        0
    );
}

#[test]
fn private_keys_and_encoded_secrets() {
    let body = fake("MII", 64);
    let pem = format!(
        "-----BEGIN {} KEY-----\n{body}\n-----END {} KEY-----",
        ["OPENSSH", "PRIVATE"].join(" "),
        ["OPENSSH", "PRIVATE"].join(" ")
    );
    gone(&pem, &body);
    use base64::Engine;
    let gh = fake(&["gh", "p_"].concat(), 36);
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("token={gh}"));
    gone(&format!("data: {b64}"), &b64);
    let docker_auth = base64::engine::general_purpose::STANDARD.encode("bob:hunter22");
    gone(&format!("x {docker_auth} y"), &docker_auth);
    let url = format!("q=password%3D{}", fake("", 10));
    gone(&url, "password%3D");
}

#[test]
fn command_lines_and_environments() {
    let v = fake("v", 12);
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (out, _) = redact_argv(&s(&["mysql", "-p", &v, "--host", "db"]));
    assert_eq!(out, ["mysql"]);
    for argv in [
        s(&["docker", "login", "-p", &v, "r.example"]),
        s(&["/usr/bin/podman", "login", &format!("-p{v}")]),
        s(&["skopeo", "copy", "--creds", &format!("bob:{v}")]),
        s(&["dockerd", &format!("--registry-password={v}")]),
        s(&["docker", "run", "-e", &format!("SECRET_THING={v}"), "img"]),
        s(&["buildctl", "build", "--opt", &format!("build-arg:X={v}")]),
    ] {
        let (out, _) = redact_argv(&argv);
        let joined = out.join(" ");
        assert!(!joined.contains(&v), "{argv:?} → {joined}");
        assert_eq!(out.len(), argv.len(), "{joined}");
    }
    let (out, _) = redact_argv(&s(&["docker", "run", "-p", "8080:80", "img"]));
    assert_eq!(out.join(" "), "docker run -p 8080:80 img");
    let env = format!("PATH=/bin\0DB_URL=postgres://u:{v}@db/x\0HOME=/root\0");
    let (out, t) = redact_environ(env.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out, "PATH=/bin\0DB_URL=<redacted>\0HOME=/root\0");
    assert_eq!(t.total(), 1);
}

#[test]
fn structured_files_stay_valid() {
    let v = fake("v", 12);
    let json = format!(
        "{{\"auths\": {{\"r.example\": {{\"auth\": \"{v}\"}}}}, \"credHelpers\": {{\"gcr.io\": \"gcloud\"}}, \"env\": [{{\"name\": \"API\", \"value\": \"{v}\"}}]}}"
    );
    let (out, t) = redact_file("/root/.docker/config.json", json.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(&v) && t.total() == 2, "{out}");
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["credHelpers"]["gcr.io"], "gcloud");
    let kube = format!(
        "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-key-data: {v}\n    token: {v}\n    exec:\n      env:\n      - name: AWS_PROFILE_SECRET\n        value: {v}\n"
    );
    let (out, t) = redact_file("/home/u/.kube/config", kube.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(&v) && t.total() == 3, "{out}");
    assert!(YamlLoaderCheck::ok(&out));
    let toml = format!("[registry.\"r\"]\n  http = true\n  password = \"{v}\"\n");
    let (out, _) = redact_file("/etc/buildkit/buildkitd.toml", toml.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.contains(&v) && out.parse::<toml::Table>().is_ok(),
        "{out}"
    );
    // Unchanged files keep their bytes.
    let plain = b"{ \"debug\": true }";
    assert_eq!(redact_file("/etc/docker/daemon.json", plain).0, plain);
}

struct YamlLoaderCheck;
impl YamlLoaderCheck {
    fn ok(s: &str) -> bool {
        yaml_rust2::YamlLoader::load_from_str(s).is_ok()
    }
}

#[test]
fn reports_are_redacted_everywhere_files_by_their_format() {
    let gh = fake(&["gh", "p_"].concat(), 36);
    let pw = fake("pw", 16);
    // Many strings (spread over threads), repeats among them, and a file's content redacted by
    // its format.
    let mut texts: Vec<String> = (0..2000)
        .flat_map(|i| [format!("row {i}"), format!("token={gh}")])
        .collect();
    let mut file = format!("{{\"registry-password\": \"{pw}\"}}");
    let t = redact_report(
        texts.iter_mut().collect(),
        vec![("/etc/docker/daemon.json".into(), &mut file)],
    );
    let all = texts.concat();
    assert!(!all.contains(&gh) && !file.contains(&pw), "{file}");
    assert_eq!(t.total(), 2001, "{t:?}");
    assert_eq!(texts[3998], "row 1999");
    assert_eq!(texts[3999], format!("token={REDACTED}"));
    // The file stays JSON.
    assert!(
        serde_json::from_str::<serde_json::Value>(&file).is_ok(),
        "{file}"
    );
}

/// What a format's parser keeps as it was still meets the detectors (found by a hostile review):
/// a Dockerfile that mentions `apiVersion:` parses as one YAML string; trailing comments survive a
/// clean parse; TOML table keys are never values; `ENV KEY value` has no `=`.
#[test]
fn files_that_parse_keep_no_secret_in_comments_keys_or_look_alike_text() {
    let gh = fake(&["gh", "p_"].concat(), 36);
    let akia = format!("{}{}", ["AK", "IA"].concat(), "QWERTYUIOPASDFGH");
    let pw = fake("pw", 16);
    let dockerfile = format!(
        "FROM debian AS base\nLABEL kind=apiVersion:v1\nENV NPM_TOKEN {pw}\n\
         COPY x /y # GITHUB_TOKEN={gh} AWS_ACCESS_KEY_ID={akia}\n\
         RUN cat > /root/.netrc <<EOF\nmachine h login bob password {pw}x\nEOF\n"
    );
    let (out, t) = redact_file("/src/Dockerfile", dockerfile.as_bytes());
    let out = String::from_utf8(out).unwrap();
    for secret in [&gh, &akia, &pw] {
        assert!(!out.contains(secret.as_str()), "{out}");
    }
    assert!(t.total() >= 4, "{t:?}");
    assert!(out.contains("COPY x /y # GITHUB_TOKEN=<redacted>"), "{out}");

    let toml = format!(
        "[worker.oci]\n  gckeepstorage = 10000000000 # GITHUB_TOKEN={gh}\n\
         [registry.\"https://bob:{pw}@mirror.example.com\"]\n  http = true\n\
         [registry.\"{gh}.example.com\"]\n  insecure = true\n"
    );
    let (out, _) = redact_file("/etc/buildkit/buildkitd.toml", toml.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(&gh) && !out.contains(&pw), "{out}");
    assert!(
        out.contains("gckeepstorage = 10000000000 # GITHUB_TOKEN=<redacted>"),
        "{out}"
    );
    // Still TOML, keys and all.
    let parsed: toml::Table = out.parse().unwrap();
    assert_eq!(parsed["registry"].as_table().unwrap().len(), 2, "{out}");

    // A clean YAML file keeps its bytes; a value's trailing comment does not keep a secret.
    let yaml = format!("kind: Config\nclusters: []\n# a note\nname: dev # token {gh}\n");
    let (out, _) = redact_file("/root/.kube/config", yaml.as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(&gh), "{out}");
    let clean = "kind: Config\nclusters: []\n# a note\nname: dev # the usual\n";
    assert_eq!(
        redact_file("/root/.kube/config", clean.as_bytes()).0,
        clean.as_bytes()
    );
}

/// `auth` names a secret (Docker's `auths`, `authToken`, `x-auth-token`), but `author` and
/// `certificate-authority` do not: a report quoting a Dockerfile's `LABEL author=…` keeps it.
#[test]
fn auth_keys_are_secret_but_authors_are_not() {
    for key in [
        "auth",
        "auths",
        "authToken",
        "auth_token",
        "dockerAuth",
        "x-auth-token",
        "Authorization",
    ] {
        assert!(is_secret_key(key), "{key}");
    }
    for key in [
        "author",
        "authors",
        "certificate-authority",
        "authenticated",
    ] {
        assert!(!is_secret_key(key), "{key}");
    }
    let (out, t) = redact_text("LABEL author=Jane maintainer=ops\nauthor: Jane Doe");
    assert_eq!(t.total(), 0, "{out}");
    let (out, _) = redact_text("authToken: s3cr3tvalue99");
    assert_eq!(out, format!("authToken: {REDACTED}"));
}
