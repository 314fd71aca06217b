//! What a bundle takes and what replay accepts, at their edges: `--include-dir` stays inside its
//! directory (symlinks out, a loop, FIFOs and devices, the file cap); `bundle --root` packages the
//! tree and `--from-bundle` is refused for `bundle`; `--anonymize` hides IP addresses in Docker
//! API answers and user names in paths, by whole words; hostile archives (a gzip bomb, too many
//! records, a FIFO, duplicate entries, a checksum mismatch, truncated gzip and tar) are refused,
//! and no replay's peak RSS passes 256 MB.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{Tree, doctor, doctor_path, require_root};
use container_doctor::bundle;
use container_doctor::host::{Answer, Request};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// A small host tree: enough for every check to answer quickly.
fn small_tree() -> Tree {
    let tree = Tree::new();
    tree.file("proc/sys/kernel/osrelease", "5.10.0-28-fixture-amd64\n")
        .file(
            "proc/version",
            "Linux version 5.10.0-28-fixture-amd64 (debian-kernel@lists.debian.org)\n",
        )
        .file(
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        )
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\n",
        )
        .file("proc/sys/kernel/hostname", "fixture-host\n");
    tree
}

fn bundle_of(tree: &Tree, dir: &Path, name: &str, extra: &[&str]) -> (Output, PathBuf) {
    let out = doctor()
        .current_dir(dir)
        .arg("--root")
        .arg(tree.path())
        .args(["bundle", "-o", name])
        .args(extra)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    (out, dir.join(name))
}

fn local_reads(records: &[container_doctor::host::Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.request {
            Request::ReadLocal(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn include_dir_stays_inside_and_says_what_it_left_out() {
    if !require_root() {
        return;
    }
    let tree = small_tree();
    let work = tempfile::tempdir().unwrap();
    let inc = work.path().join("logs");
    fs::create_dir_all(inc.join("sub")).unwrap();
    fs::write(inc.join("a.log"), "first\n").unwrap();
    fs::write(inc.join("sub/b.log"), "second\n").unwrap();
    // Outside the directory: a file a symlink points to.
    let outside = work.path().join("outside.txt");
    fs::write(&outside, "never included\n").unwrap();
    std::os::unix::fs::symlink(&outside, inc.join("out-file")).unwrap();
    std::os::unix::fs::symlink("/etc", inc.join("out-dir")).unwrap();
    std::os::unix::fs::symlink(".", inc.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("..", inc.join("sub/up")).unwrap();
    mkfifo(&inc.join("pipe"));
    assert!(
        Command::new("mknod")
            .arg(inc.join("null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success()
    );
    // A loop that is no symlink: the directory bind-mounted inside itself, in a private mount
    // namespace. The walk must see it is a directory it already took.
    let bundle_path = work.path().join("inc.tar.gz");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mkdir \"$1/sub/bind\" && mount --bind \"$1\" \"$1/sub/bind\" && shift && exec \"$@\"")
        .arg("scene")
        .arg(&inc)
        .arg(doctor_path())
        .arg("--root")
        .arg(tree.path())
        .args(["bundle", "-o"])
        .arg(&bundle_path)
        .arg("--include-dir")
        .arg(&inc)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (manifest, records, _) = bundle::read(&bundle_path).unwrap();
    let read = local_reads(&records);
    let inc_s = inc.to_string_lossy().into_owned();
    assert!(read.contains(&format!("{inc_s}/a.log")), "{read:?}");
    assert!(read.contains(&format!("{inc_s}/sub/b.log")), "{read:?}");
    for p in &read {
        assert!(p.starts_with(&format!("{inc_s}/")), "read outside: {p}");
        assert!(!p.contains("/sub/bind/"), "the loop was walked: {p}");
    }
    assert_eq!(read.len(), 2, "{read:?}");
    let left = manifest.left_out.join("\n");
    for (name, why) in [
        ("out-file", "a symlink, not followed"),
        ("out-dir", "a symlink, not followed"),
        ("sub/loop", "a symlink, not followed"),
        ("sub/up", "a symlink, not followed"),
        ("pipe", "not a regular file"),
        ("null", "not a regular file"),
        ("sub/bind", "already included (a loop)"),
    ] {
        assert!(
            left.contains(&format!("{inc_s}/{name}: {why}")),
            "{name}: {left}"
        );
    }
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains("never included"));
}

#[test]
fn include_dir_stops_at_its_file_cap() {
    let tree = small_tree();
    let work = tempfile::tempdir().unwrap();
    let inc = work.path().join("many");
    fs::create_dir(&inc).unwrap();
    for i in 0..10_050 {
        fs::write(inc.join(format!("f{i:05}")), "x").unwrap();
    }
    let (out, path) = bundle_of(
        &tree,
        work.path(),
        "many.tar.gz",
        &["--include-dir", inc.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (manifest, records, _) = bundle::read(&path).unwrap();
    assert_eq!(local_reads(&records).len(), 10_000);
    assert!(
        manifest
            .left_out
            .iter()
            .any(|l| l == "--include-dir: 10000 files included; the rest was left out"),
        "{:?}",
        manifest.left_out
    );
}

#[test]
fn include_dir_stops_at_its_byte_cap() {
    let tree = small_tree();
    let work = tempfile::tempdir().unwrap();
    let inc = work.path().join("big");
    fs::create_dir(&inc).unwrap();
    // Sparse files: 40 MB each on paper, nothing on disk. The first fits the 64 MB (and is
    // then refused by the 16 MB cap on any one file), the second would pass 64 MB.
    for name in ["big1", "big2"] {
        fs::File::create(inc.join(name))
            .unwrap()
            .set_len(40 << 20)
            .unwrap();
    }
    fs::write(inc.join("small.log"), "small\n").unwrap();
    let (out, path) = bundle_of(
        &tree,
        work.path(),
        "big.tar.gz",
        &["--include-dir", inc.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (manifest, records, _) = bundle::read(&path).unwrap();
    let inc_s = inc.to_string_lossy();
    let read = local_reads(&records);
    assert!(read.contains(&format!("{inc_s}/small.log")), "{read:?}");
    assert!(read.contains(&format!("{inc_s}/big1")), "{read:?}");
    assert!(!read.contains(&format!("{inc_s}/big2")), "{read:?}");
    assert!(
        manifest.left_out.iter().any(|l| l
            == &format!("{inc_s}/big2: 41943040 bytes, over the 64 MB left for included files")),
        "{:?}",
        manifest.left_out
    );
}

#[test]
fn bundle_packages_the_root_it_examined_and_refuses_a_bundle() {
    let tree = small_tree();
    let work = tempfile::tempdir().unwrap();
    let (out, path) = bundle_of(&tree, work.path(), "root.tar.gz", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (manifest, records, report) = bundle::read(&path).unwrap();
    assert_eq!(
        serde_json::to_value(&manifest.source).unwrap()["path"],
        tree.path().to_str().unwrap()
    );
    let osrelease = records
        .iter()
        .find(|r| r.request == Request::Read("/proc/sys/kernel/osrelease".into()))
        .expect("the tree's osrelease was recorded");
    assert_eq!(
        osrelease.answer,
        Ok(Answer::Bytes(b"5.10.0-28-fixture-amd64\n".to_vec()))
    );
    assert!(report.contains("5.10.0"), "{report}");
    // The machine's own processes are not in it: the tree has none, so every process file
    // asked for was not found.
    for r in &records {
        if let Request::Read(p) = &r.request
            && (p.ends_with("/environ") || p.ends_with("/cmdline"))
        {
            assert!(r.answer.is_err(), "{p} of this machine was packaged");
        }
    }
    // Replaying it gives the tree's verdicts.
    let live = tree.run_json(&["--only", "kernel-version"]).1;
    let replayed = doctor()
        .arg("--from-bundle")
        .arg(&path)
        .args(["--format", "json", "--only", "kernel-version"])
        .output()
        .unwrap();
    let replayed: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(
        crate::common::summary(&live, "kernel-version"),
        crate::common::summary(&replayed, "kernel-version")
    );

    // `bundle --from-bundle X`: a usage error, nothing written.
    let out = doctor()
        .current_dir(work.path())
        .arg("--from-bundle")
        .arg(&path)
        .args(["bundle", "-o", "again.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--from-bundle names a bundle that already exists"),
        "{}",
        text(&out)
    );
    assert!(!work.path().join("again.tar.gz").exists());
}

/// A Docker Engine API on a unix socket that answers every call with container addresses.
fn fake_engine(socket: &Path) -> std::process::Child {
    let script = r#"
import json, os, socketserver, sys
from http.server import BaseHTTPRequestHandler
ADDR = sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/containers/json"):
            body = [{"Id": "c0ffee" * 10 + "abcd", "Names": ["/web"], "State": "running",
                     "NetworkSettings": {"Networks": {"bridge": {"IPAddress": ADDR, "Gateway": "172.18.0.1"}}}}]
        elif self.path.startswith("/containers/"):
            body = {"Id": "c0ffee" * 10 + "abcd", "Name": "/web", "State": {"Status": "running"},
                    "GraphDriver": {"Name": "overlay2", "Data": {}},
                    "NetworkSettings": {"IPAddress": ADDR}}
        elif self.path.startswith("/version"):
            body = {"Version": "24.0.5", "ApiVersion": "1.43", "Os": "linux", "KernelVersion": "5.10.0", "Addr": ADDR}
        else:
            body = {"BuildCache": [], "LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "Addr": ADDR}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def get_request(self):
        r, _ = self.socket.accept()
        return r, ("engine", 0)
S(sys.argv[1], H).serve_forever()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(socket)
        .arg("172.18.0.5")
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if socket.exists() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the fake engine never listened");
}

#[test]
fn anonymize_hides_addresses_in_engine_answers_and_user_names_in_paths_by_whole_words() {
    let tree = small_tree();
    fs::create_dir_all(tree.path().join("var/run")).unwrap();
    let mut engine = fake_engine(&tree.path().join("var/run/docker.sock"));
    let work = tempfile::tempdir().unwrap();
    // A user's directory, included: its path names the user.
    let inc = work.path().join("home/debian/ci-logs");
    fs::create_dir_all(&inc).unwrap();
    fs::write(
        inc.join("build.log"),
        "pushed by debian-bot from 10.20.30.40; debian's cache; ID=debian\n",
    )
    .unwrap();
    let (out, path) = bundle_of(
        &tree,
        work.path(),
        "anon.tar.gz",
        &["--anonymize", "--include-dir", inc.to_str().unwrap()],
    );
    let _ = engine.kill();
    let _ = engine.wait();
    assert!(out.status.success(), "{}", text(&out));
    let (manifest, records, report) = bundle::read(&path).unwrap();
    assert!(manifest.anonymized);
    let docker: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.request, Request::Docker(_)))
        .map(|r| serde_json::to_string(&r.answer).unwrap())
        .collect();
    assert!(!docker.is_empty(), "no Docker API call was recorded");
    let answered = docker.join("\n");
    assert!(answered.contains("ip-"), "{answered}");
    let all = format!("{}\n{report}", serde_json::to_string(&records).unwrap());
    for ip in ["172.18.0.5", "172.18.0.1", "10.20.30.40"] {
        assert!(!all.contains(ip), "{ip} survived --anonymize");
    }
    // The user name, as a path component, is gone; the same word elsewhere is untouched.
    let reads = local_reads(&records);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(
        reads[0].contains("/home/user-1/ci-logs/build.log"),
        "{reads:?}"
    );
    assert!(!reads[0].contains("/debian/"), "{reads:?}");
    let os = records
        .iter()
        .find(|r| r.request == Request::Read("/etc/os-release".into()))
        .expect("os-release recorded");
    match &os.answer {
        Ok(Answer::Bytes(b)) => {
            let t = String::from_utf8_lossy(b);
            assert!(t.contains("\nID=debian\n"), "{t}");
            assert!(!t.contains("user-"), "{t}");
        }
        other => panic!("{other:?}"),
    }
    let log = records
        .iter()
        .find(|r| matches!(&r.request, Request::ReadLocal(p) if p.ends_with("build.log")))
        .unwrap();
    match &log.answer {
        Ok(Answer::Bytes(b)) => {
            let t = String::from_utf8_lossy(b);
            assert!(t.contains("pushed by debian-bot from ip-"), "{t}");
            assert!(t.contains("debian's cache; ID=debian"), "{t}");
        }
        other => panic!("{other:?}"),
    }
}

/// Runs a replay under /usr/bin/time; returns its output and its peak RSS in kilobytes.
fn replay_measured(bundle: &Path) -> (Output, u64) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "PEAK_RSS_KB=%M"])
        .arg(doctor_path())
        .arg("--from-bundle")
        .arg(bundle)
        .args(["--check", "--format", "json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let kb = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KB="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {err}"));
    (out, kb)
}

/// Builds hostile bundles with Python's tarfile and gzip from the entries of a good one.
fn python(script: &str, args: &[&Path]) {
    let out = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

const MAKE_HOSTILE: &str = r#"
import gzip, hashlib, io, json, sys, tarfile, zlib
good, out = sys.argv[1], sys.argv[2]
with tarfile.open(good, "r:gz") as t:
    entries = {m.name: t.extractfile(m).read() for m in t.getmembers()}
manifest = json.loads(entries["manifest.json"])
def tar_bytes(items, end=True):
    buf = io.BytesIO()
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for name, data in items:
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    if end:
        t.close()
        return buf.getvalue()
    # No end-of-archive blocks, and no padding to the record size.
    t.fileobj = None
    return buf.getvalue()
def write(name, raw):
    open(out + "/" + name, "wb").write(raw)
def gz(raw, level=6):
    return gzip.compress(raw, compresslevel=level, mtime=0)
def with_records(records_text):
    m = dict(manifest)
    m["files"] = [
        {"name": "report.json", "sha256": hashlib.sha256(entries["report.json"]).hexdigest(), "bytes": len(entries["report.json"])},
        {"name": "records.json", "sha256": hashlib.sha256(records_text).hexdigest(), "bytes": len(records_text)},
    ]
    return [("manifest.json", json.dumps(m).encode()), ("report.json", entries["report.json"]), ("records.json", records_text)]
order = [(n, entries[n]) for n in ("manifest.json", "report.json", "records.json")]

# A gzip bomb: a few MB that unpack to 2 GB of zeros (a tar reader sees an empty archive, then more).
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open(out + "/bomb.tar.gz", "wb") as f:
    chunk = b"\0" * (1 << 20)
    for _ in range(2048):
        f.write(z.compress(chunk))
    f.write(z.flush())
# 10 million records, declared in the tar header: refused by the size in the header.
rec = b'{"request":{"op":"probe_pidfd"},"answer":{"Err":{"kind":"io","message":""}},"duration_us":0},'
big = tarfile.TarInfo("records.json"); big.size = len(rec) * 10_000_000
buf = io.BytesIO(); t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
i = tarfile.TarInfo("manifest.json"); i.size = len(entries["manifest.json"]); t.addfile(i, io.BytesIO(entries["manifest.json"]))
buf.write(big.tobuf(format=tarfile.GNU_FORMAT)); buf.write(rec * 1000)
write("ten-million.tar.gz", gz(buf.getvalue()))
# 700 000 records within the size cap, with the right checksums: refused by the record count.
many = b"[" + rec * 699_999 + rec[:-1] + b"]"
write("many-records.tar.gz", gz(tar_bytes(with_records(many)), 1))
# The same entry twice.
write("duplicate.tar.gz", gz(tar_bytes(order + [("records.json", entries["records.json"])])))
# report.json changed after the manifest was written.
write("checksum.tar.gz", gz(tar_bytes([order[0], ("report.json", entries["report.json"] + b" "), order[2]])))
# gzip cut before its trailer (CRC and length), and a trailer with a wrong CRC.
whole = gz(tar_bytes(order))
write("truncated-gzip.tar.gz", whole[:-8])
bad = bytearray(whole); bad[-8] ^= 0xFF
write("bad-crc.tar.gz", bytes(bad))
# A whole gzip stream of a tar that stops without its end blocks.
write("truncated-tar.tar.gz", gz(tar_bytes(order, end=False)))
"#;

#[test]
fn hostile_bundles_are_refused_within_256_mb() {
    let tree = small_tree();
    let work = tempfile::tempdir().unwrap();
    let (out, good) = bundle_of(&tree, work.path(), "good.tar.gz", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let hostile = work.path().join("hostile");
    fs::create_dir(&hostile).unwrap();
    python(MAKE_HOSTILE, &[&good, &hostile]);
    mkfifo(&hostile.join("fifo.tar.gz"));
    // The good one replays (and within the bound too).
    let (out, kb) = replay_measured(&good);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(kb <= 256 * 1024, "replay of a good bundle: {kb} kB");
    let mut peaks = Vec::new();
    for (name, why) in [
        ("bomb.tar.gz", "unpacked"),
        ("ten-million.tar.gz", "over its 64 MB cap"),
        ("many-records.tar.gz", "more than 200000 records"),
        ("duplicate.tar.gz", "appears twice"),
        ("checksum.tar.gz", "does not match its checksum"),
        ("truncated-gzip.tar.gz", ""),
        ("bad-crc.tar.gz", ""),
        ("truncated-tar.tar.gz", "truncated"),
        ("fifo.tar.gz", "not a regular file"),
    ] {
        let (out, kb) = replay_measured(&hostile.join(name));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            err.starts_with("container-doctor: ") && err.contains(name) && err.contains(why),
            "{name}: {err}"
        );
        assert!(kb <= 256 * 1024, "{name}: peak RSS {kb} kB");
        peaks.push(format!("{name} {kb} kB"));
    }
    eprintln!("replay peak RSS: good {kb} kB; {}", peaks.join(", "));
}
