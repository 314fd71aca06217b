//! The fleet, for real: `--interval` (rewrites the textfile, retries a failed write, stops on
//! SIGTERM/SIGINT), the top-level Dockerfile built by a real dockerd with BuildKit, offline, the
//! image run exactly as assets/deploy/daemonset.yaml's pod (host PID namespace, host root read-only
//! at /host, only the textfile directory writable, the manifest's command, user and capabilities),
//! its verdicts against the host's, then Debian's node_exporter reading that textfile and Debian's
//! Prometheus scraping it, queried over its HTTP API; and the alert rules under promtool.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::dockerd::Dockerd;
use crate::common::{Running, Tree, doctor_path, require_root, serial, static_bin};
use serde_json::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const IMAGE: &str = "container-doctor:fleet-test";

/// Polls `f` every 100 ms until it gives Some; panics with `what` after `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

/// The samples of a Prometheus text file: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn last_run(text: &str) -> Option<f64> {
    samples(text)
        .get("container_doctor_last_run_timestamp_seconds")
        .copied()
}

/// `check id` → status value (0 ok … 3 unknown) in a textfile.
fn statuses(text: &str) -> BTreeMap<String, f64> {
    samples(text)
        .into_iter()
        .filter_map(|(k, v)| {
            let id = k
                .strip_prefix("container_doctor_check_status{check=\"")?
                .strip_suffix("\"}")?;
            Some((id.to_string(), v))
        })
        .collect()
}

fn status_value(status: &str) -> Option<f64> {
    match status {
        "ok" => Some(0.0),
        "warn" => Some(1.0),
        "error" => Some(2.0),
        "unknown" => Some(3.0),
        _ => None,
    }
}

/// A file's text, or None while it does not exist.
fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The textfile once it is rewritten with a run later than `after` (seconds since the epoch).
fn rewritten_after(path: &Path, after: f64) -> String {
    wait_for(Duration::from_secs(60), "the textfile rewritten", || {
        read(path).filter(|t| last_run(t).is_some_and(|ts| ts > after))
    })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Only the report is left in the directory: no temporary file of an atomic write.
fn assert_only_report(dir: &Path, name: &str) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [name], "{}", dir.display());
}

#[test]
fn interval_rewrites_the_file_retries_a_failed_write_and_stops_on_sigterm() {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n");
    let dir = tempfile::tempdir().unwrap();
    // The output's directory is a file at first: the write fails until it is a directory.
    let blocked = dir.path().join("textfile");
    std::fs::write(&blocked, "not a directory").unwrap();
    let prom = blocked.join("container_doctor.prom");
    let stderr = dir.path().join("stderr");
    let child = Command::new(doctor_path())
        .arg("--root")
        .arg(tree.path())
        .args([
            "--format",
            "prometheus",
            "--interval",
            "0.5",
            "--timeout",
            "120",
        ])
        .arg("--output")
        .arg(&prom)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut child = Running(child);

    // Said on stderr, twice: the loop goes on after a failed write.
    let said = wait_for(
        Duration::from_secs(60),
        "the failed write said twice",
        || read(&stderr).filter(|t| t.matches("trying again in 500ms").count() >= 2),
    );
    assert!(said.contains(&*blocked.to_string_lossy()), "{said}");
    assert!(child.0.try_wait().unwrap().is_none(), "it exited: {said}");

    // Once the directory can be made, the next scan writes the file, and the ones after rewrite it.
    std::fs::remove_file(&blocked).unwrap();
    let first = wait_for(Duration::from_secs(60), "the textfile", || read(&prom));
    let first_run = last_run(&first).unwrap();
    let second = rewritten_after(&prom, first_run);
    assert_eq!(statuses(&first), statuses(&second));
    assert_eq!(statuses(&second)["kernel-version"], 0.0, "{second}");

    signal(&child.0, rustix::process::Signal::TERM);
    let status = wait_for(Duration::from_secs(60), "the exit on SIGTERM", || {
        child.0.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(0), "{}", read(&stderr).unwrap());
    assert!(read(&stderr).unwrap().contains("stopping on signal 15"));
    // What it left is a whole report.
    let last = read(&prom).unwrap();
    assert!(last.ends_with('\n') && last_run(&last).is_some(), "{last}");
    assert_only_report(&blocked, "container_doctor.prom");
}

#[test]
fn interval_stops_on_sigint_and_needs_a_file() {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "6.1.0-25-amd64\n");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let child = Command::new(doctor_path())
        .arg("--root")
        .arg(tree.path())
        .args(["--format", "json", "--interval", "3600", "--timeout", "120"])
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    // The first scan is written at once; then it sleeps for an hour, and SIGINT ends the sleep.
    let report = wait_for(Duration::from_secs(60), "the report", || read(&out));
    let json: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(crate::common::status(&json, "kernel-version"), "ok");
    signal(&child.0, rustix::process::Signal::INT);
    let status = wait_for(Duration::from_secs(60), "the exit on SIGINT", || {
        child.0.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(0));

    // Rewriting stdout every interval means nothing: a usage error.
    let out = Command::new(doctor_path())
        .args(["--check", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--interval rewrites a file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(doctor_path())
        .args(["--check", "--output", "/dev/null", "--interval", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// An engine of our own with the top-level Dockerfile's default target built into IMAGE, as the
/// Dockerfile's header says: `--target from-binary` with the static binary from scripts/static.
fn engine_with_doctor_image() -> (std::sync::MutexGuard<'static, ()>, Dockerd) {
    let serial = serial();
    let bin = static_bin();
    let engine = Dockerd::start();
    // The repository is the context (its .dockerignore lets only the sources and the static
    // binaries in); a binary built outside it (CARGO_TARGET_DIR elsewhere) goes into a context of
    // its own, with the same Dockerfile.
    let own_context;
    let (context, binary) = match bin.strip_prefix(REPO) {
        Ok(rel) => (PathBuf::from(REPO), rel.to_path_buf()),
        Err(_) => {
            own_context = tempfile::tempdir().unwrap();
            std::fs::copy(
                Path::new(REPO).join("Dockerfile"),
                own_context.path().join("Dockerfile"),
            )
            .unwrap();
            std::fs::copy(&bin, own_context.path().join("container-doctor")).unwrap();
            (own_context.path().to_path_buf(), "container-doctor".into())
        }
    };
    let out = Command::new("/usr/bin/docker")
        .env("DOCKER_HOST", engine.docker_host())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--progress", "plain", "--target", "from-binary"])
        .arg("--build-arg")
        .arg(format!("BINARY={}", binary.display()))
        .args(["-t", IMAGE])
        .arg(&context)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serial, engine)
}

#[test]
fn the_image_is_the_static_binary_alone_labelled_and_under_15_mb() {
    if !require_root() {
        return;
    }
    let (_serial, engine) = engine_with_doctor_image();
    let inspect: Value = serde_json::from_str(&engine.ok(&["image", "inspect", IMAGE])).unwrap();
    let image = &inspect[0];
    let size = image["Size"].as_u64().unwrap();
    eprintln!("image {IMAGE}: {size} bytes");
    assert!(size <= 15_000_000, "{size} bytes");
    // FROM scratch: one layer, the binary.
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let config = &image["Config"];
    assert_eq!(config["User"], "65534:65534");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/container-doctor"])
    );
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        env!("CARGO_PKG_REPOSITORY")
    );
    assert!(labels["org.opencontainers.image.licenses"].is_string());
    // Nothing but the binary: no shell to run.
    let out = engine.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        IMAGE,
    ]);
    assert!(!out.status.success());
    let version = engine.ok(&["run", "--rm", "--network", "none", IMAGE, "--version"]);
    assert_eq!(
        version,
        format!("container-doctor {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The DaemonSet's container, read from the manifest: (args, runAsUser, capabilities added,
/// the textfile volume's mount path).
struct PodSpec {
    args: Vec<String>,
    user: i64,
    caps: Vec<String>,
    textfile: String,
}

fn daemonset_pod() -> PodSpec {
    let text =
        std::fs::read_to_string(Path::new(REPO).join("assets/deploy/daemonset.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let spec = &docs[0]["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"].as_bool(), Some(true));
    let c = &spec["containers"][0];
    let strings = |y: &yaml_rust2::Yaml| -> Vec<String> {
        y.as_vec()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(strings(&c["command"]), ["/usr/local/bin/container-doctor"]);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    let mounts = c["volumeMounts"].as_vec().unwrap();
    let host = mounts
        .iter()
        .find(|m| m["name"].as_str() == Some("host"))
        .unwrap();
    assert_eq!(host["mountPath"].as_str(), Some("/host"));
    assert_eq!(host["readOnly"].as_bool(), Some(true));
    let textfile = mounts
        .iter()
        .find(|m| m["name"].as_str() == Some("textfile"))
        .unwrap();
    PodSpec {
        args: strings(&c["args"]),
        user: sc["runAsUser"].as_i64().unwrap(),
        caps: strings(&sc["capabilities"]["add"]),
        textfile: textfile["mountPath"].as_str().unwrap().to_string(),
    }
}

/// (id, status, summary) per check of a JSON report, in order.
fn by_id(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("id"), s("status"), s("summary"))
        })
        .collect()
}

/// The pod as the DaemonSet runs it, on a real engine; its textfile against the host's own
/// verdicts; then node_exporter and Prometheus over that textfile.
#[test]
fn the_daemonsets_pod_writes_the_hosts_verdicts_and_prometheus_scrapes_them() {
    if !require_root() {
        return;
    }
    let pod = daemonset_pod();
    let (_serial, engine) = engine_with_doctor_image();
    let bin = static_bin();
    let textfile = tempfile::tempdir().unwrap();
    let prom_name = "container_doctor.prom";

    // The manifest's args, with the interval shortened for the test and the scan's deadline out
    // of the way of a loaded machine.
    let mut args = pod.args.clone();
    let at = args.iter().position(|a| a == "--interval").unwrap();
    args[at + 1] = "1".into();
    args.extend(["--timeout".into(), "120".into()]);
    let output = format!("{}/{prom_name}", pod.textfile);
    assert!(args.contains(&output), "{args:?}");
    let mut run = vec![
        "run".to_string(),
        "-d".into(),
        "--network".into(),
        "none".into(),
        "--pid".into(),
        "host".into(),
        "-v".into(),
        "/:/host:ro".into(),
        "-v".into(),
        format!("{}:{}", textfile.path().display(), pod.textfile),
        "--read-only".into(),
        "--user".into(),
        format!("{}:{}", pod.user, pod.user),
        "--cap-drop".into(),
        "ALL".into(),
        "--security-opt".into(),
        "no-new-privileges".into(),
    ];
    for cap in &pod.caps {
        run.extend(["--cap-add".into(), cap.clone()]);
    }
    run.push(IMAGE.into());
    run.extend(args);
    let run: Vec<&str> = run.iter().map(String::as_str).collect();
    let id = engine.ok(&run);

    let on_host = |extra: &[&str]| -> Value {
        let out = Command::new(&bin)
            .env_remove("DOCKER_HOST")
            .args(["--check", "--format", "json", "--timeout", "120"])
            .args(extra)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let prom = textfile.path().join(prom_name);
    wait_for(Duration::from_secs(60), "the pod's textfile", || {
        read(&prom)
    });
    // Other engines on the machine start and stop containers: a round where the host changed
    // under more than one check proves too little, and is taken again (five rounds at most).
    let mut rounds = 0;
    let text = loop {
        rounds += 1;
        let before = on_host(&["--root", "/"]);
        let live = on_host(&[]);
        // Two rewrites after the host's runs: the second one's scan started after them.
        let first = rewritten_after(&prom, now());
        let text = rewritten_after(&prom, last_run(&first).unwrap());
        let after = on_host(&["--root", "/"]);

        let in_pod = statuses(&text);
        let (before, after, live) = (by_id(&before), by_id(&after), by_id(&live));
        let mut compared = 0;
        for ((b, a), l) in before.iter().zip(&after).zip(&live) {
            // A fact that changed on the host while the test ran proves nothing.
            if b != a || b.1 != l.1 {
                eprintln!("changed on the host during the test: {b:?} / {a:?} / live {l:?}");
                continue;
            }
            compared += 1;
            // Skipped checks have no status series.
            assert_eq!(
                in_pod.get(&b.0).copied(),
                status_value(&b.1),
                "{}: {b:?}",
                b.0
            );
        }
        assert!(compared >= 5, "{compared} checks compared");
        if compared >= before.len() - 1 {
            break text;
        }
        assert!(rounds < 5, "the host kept changing");
    };
    assert!(statuses(&text).contains_key("overlay-busy"), "{text}");

    // `docker stop` is SIGTERM: the loop ends cleanly, the textfile whole, nothing else left.
    engine.ok(&["stop", "-t", "30", &id]);
    assert_eq!(
        engine.ok(&["inspect", "-f", "{{.State.ExitCode}}", &id]),
        "0"
    );
    assert_only_report(textfile.path(), prom_name);
    let text = read(&prom).unwrap();

    // node_exporter reads the directory; Prometheus scrapes node_exporter every second.
    let exporter_port = free_port();
    let exporter = Running(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!(
                "--collector.textfile.directory={}",
                textfile.path().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-node-exporter (Debian's prometheus-node-exporter)"),
    );
    let server = tempfile::tempdir().unwrap();
    std::fs::write(
        server.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n\
             \x20     - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let prometheus = Running(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                server.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                server.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(server.path().join("log")).unwrap())
            .spawn()
            .expect("prometheus (Debian's prometheus)"),
    );
    let expected = statuses(&text);
    let series = wait_for(
        Duration::from_secs(90),
        "Prometheus to return every check's status",
        || {
            let v = query(prometheus_port, "container_doctor_check_status")?;
            let result = v["data"]["result"].as_array()?.clone();
            (result.len() == expected.len()).then_some(result)
        },
    );
    let mut got = BTreeMap::new();
    for s in &series {
        assert_eq!(s["metric"]["job"], "node");
        assert_eq!(
            s["metric"]["instance"],
            format!("127.0.0.1:{exporter_port}")
        );
        let check = s["metric"]["check"].as_str().unwrap().to_string();
        let value: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
        assert!(got.insert(check, value).is_none(), "one series per check");
    }
    assert_eq!(got, expected);
    // The doctor's version and last run came through too.
    let info = query(prometheus_port, "container_doctor_info").unwrap();
    assert_eq!(
        info["data"]["result"][0]["metric"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    let ts = query(
        prometheus_port,
        "container_doctor_last_run_timestamp_seconds",
    )
    .unwrap();
    let ts: f64 = ts["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(Some(ts), last_run(&text));
    drop(prometheus);
    drop(exporter);
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prometheus' instant query over its HTTP API (HTTP/1.0 on loopback); None until it answers
/// with success.
fn query(port: u16, promql: &str) -> Option<Value> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /api/v1/query?query={promql} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    let v: Value = serde_json::from_str(body).ok()?;
    (v["status"] == "success").then_some(v)
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let deploy = Path::new(REPO).join("assets/deploy");
    let promtool = |args: &[&str], dir: &Path| {
        Command::new("promtool")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool (Debian's prometheus)")
    };
    let out = promtool(&["check", "rules", "alerts.yaml"], &deploy);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("SUCCESS: 4 rules found"), "{said}");
    let out = promtool(&["test", "rules", "alerts.test.yaml"], &deploy);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The unit tests can fail: the same rules expected to fire five minutes early do not pass.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(deploy.join("alerts.yaml"), dir.path().join("alerts.yaml")).unwrap();
    let tests = std::fs::read_to_string(deploy.join("alerts.test.yaml")).unwrap();
    assert!(tests.contains("- eval_time: 20m\n"));
    let early = tests.replacen("- eval_time: 20m\n", "- eval_time: 14m\n", 1);
    std::fs::write(dir.path().join("alerts.test.yaml"), early).unwrap();
    let out = promtool(&["test", "rules", "alerts.test.yaml"], dir.path());
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The CronJob is the DaemonSet's pod run once per schedule: the same spec but for the loop
/// (`--interval 300` there, one scan here) and what only a Job or a long-running pod has.
#[test]
fn the_cronjob_is_the_daemonsets_pod_run_once() {
    use yaml_rust2::Yaml;
    let load = |name: &str| {
        let text =
            std::fs::read_to_string(Path::new(REPO).join("assets/deploy").join(name)).unwrap();
        yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap()
            .remove(0)
    };
    let (daemonset, cronjob) = (load("daemonset.yaml"), load("cronjob.yaml"));
    let pod_spec = |template: &Yaml, only_here: &str| -> (Vec<String>, Yaml) {
        let mut spec = template["spec"].as_hash().unwrap().clone();
        assert!(
            spec.remove(&Yaml::String(only_here.into())).is_some(),
            "{only_here}"
        );
        let key = |k: &str| Yaml::String(k.into());
        let mut containers = spec[&key("containers")].as_vec().unwrap().clone();
        let mut container = containers[0].as_hash().unwrap().clone();
        let args = container
            .remove(&key("args"))
            .unwrap()
            .as_vec()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        containers[0] = Yaml::Hash(container);
        spec.insert(key("containers"), Yaml::Array(containers));
        (args, Yaml::Hash(spec))
    };
    let (ds_args, ds_pod) = pod_spec(
        &daemonset["spec"]["template"],
        "terminationGracePeriodSeconds",
    );
    let (cj_args, cj_pod) = pod_spec(
        &cronjob["spec"]["jobTemplate"]["spec"]["template"],
        "restartPolicy",
    );
    assert_eq!(ds_pod, cj_pod);
    assert_eq!(ds_args[ds_args.len() - 2..], ["--interval", "300"]);
    assert_eq!(cj_args[cj_args.len() - 2..], ["--fail-on", "never"]);
    assert_eq!(ds_args[..ds_args.len() - 2], cj_args[..cj_args.len() - 2]);
}
