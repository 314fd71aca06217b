//! A Host answered from a script, for the checks' unit tests: files, listings, links, stats and
//! command outputs written in the test, everything else absent. It stands for a tree examined
//! with `--root` (no statfs, no probes), so what a check does with missing facts shows too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    Answer, CommandOutput, DirSize, DiskStat, DockerCall, FreezerProbe, FreezerVersion, Host,
    HostError, Meta, PidfdProbe, Request, Source, SourceKind,
};

#[derive(Default)]
pub struct Script {
    answers: HashMap<Request, Result<Answer, HostError>>,
    euid: u32,
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    /// A file, and the directories above it listed as holding it.
    pub fn file(mut self, path: &str, text: &str) -> Self {
        self.answers.insert(
            Request::Read(path.into()),
            Ok(Answer::Bytes(text.as_bytes().to_vec())),
        );
        let mut child = path;
        while let Some((parent, name)) = child.rsplit_once('/') {
            let dir = if parent.is_empty() { "/" } else { parent };
            let entry = self
                .answers
                .entry(Request::ListDir(dir.into()))
                .or_insert_with(|| Ok(Answer::Names(Vec::new())));
            if let Ok(Answer::Names(names)) = entry
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
                names.sort();
            }
            if parent.is_empty() {
                break;
            }
            child = parent;
        }
        self
    }

    /// A symlink (`/proc/1/ns/mnt` → `mnt:[4026531841]`).
    pub fn link(mut self, path: &str, target: &str) -> Self {
        self.answers.insert(
            Request::ReadLink(path.into()),
            Ok(Answer::Link(target.into())),
        );
        self
    }

    /// An executable file (a tool's binary).
    pub fn executable(mut self, path: &str) -> Self {
        self.answers.insert(
            Request::Stat(path.into()),
            Ok(Answer::Meta(Meta {
                is_dir: false,
                is_file: true,
                mode: 0o755,
                size: 1,
                dev: (8, 1),
            })),
        );
        self
    }

    /// Any request's answer, or its error.
    pub fn answer(mut self, request: Request, answer: Result<Answer, HostError>) -> Self {
        self.answers.insert(request, answer);
        self
    }

    /// What running `argv` prints.
    pub fn command(self, argv: &[&str], code: i32, stdout: &str, stderr: &str) -> Self {
        let argv = argv.iter().map(|a| a.to_string()).collect();
        self.answer(
            Request::Run(argv),
            Ok(Answer::Output(CommandOutput {
                code: Some(code),
                signal: None,
                stdout: stdout.into(),
                stderr: stderr.into(),
                truncated: false,
            })),
        )
    }

    pub fn euid(mut self, euid: u32) -> Self {
        self.euid = euid;
        self
    }

    pub fn host(self) -> Host {
        Host::new(Box::new(self))
    }

    fn get(&self, request: Request) -> Result<Answer, HostError> {
        match self.answers.get(&request) {
            Some(a) => a.clone(),
            None => Err(match request {
                Request::Run(argv) => {
                    HostError::Unsupported(format!("{}: not scripted", argv.join(" ")))
                }
                Request::Statfs(_)
                | Request::ProbePidfd
                | Request::ProbeFreezer(..)
                | Request::Env(_) => {
                    HostError::Unsupported(format!("{request}: not available under --root"))
                }
                other => HostError::NotFound(other.to_string()),
            }),
        }
    }
}

macro_rules! take {
    ($self:ident, $request:expr, $variant:ident) => {
        match $self.get($request)? {
            Answer::$variant(v) => Ok(v),
            _ => Err(HostError::Io(
                "scripted with the wrong kind of answer".into(),
            )),
        }
    };
}

impl Source for Script {
    fn kind(&self) -> SourceKind {
        SourceKind::Root(PathBuf::from("/script"))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, HostError> {
        take!(self, Request::Read(path.into()), Bytes)
    }

    fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError> {
        take!(self, Request::Read(path.into()), Bytes)
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, HostError> {
        take!(self, Request::ListDir(path.into()), Names)
    }

    fn read_link(&self, path: &str) -> Result<String, HostError> {
        take!(self, Request::ReadLink(path.into()), Link)
    }

    fn subdirs(&self, path: &str) -> Result<Vec<String>, HostError> {
        take!(self, Request::Subdirs(path.into()), Names)
    }

    fn stat(&self, path: &str) -> Result<Meta, HostError> {
        take!(self, Request::Stat(path.into()), Meta)
    }

    fn statfs_magic(&self, path: &str) -> Result<u64, HostError> {
        take!(self, Request::Statfs(path.into()), Magic)
    }

    fn disk_stat(&self, path: &str) -> Result<DiskStat, HostError> {
        take!(self, Request::DiskStat(path.into()), DiskStat)
    }

    fn dir_size(&self, path: &str) -> Result<DirSize, HostError> {
        take!(self, Request::DirSize(path.into()), DirSize)
    }

    fn env(&self, name: &str) -> Result<Option<String>, HostError> {
        take!(self, Request::Env(name.into()), Env)
    }

    fn run(&self, argv: &[String], _: Duration) -> Result<CommandOutput, HostError> {
        take!(self, Request::Run(argv.to_vec()), Output)
    }

    fn docker(&self, call: &DockerCall) -> Result<serde_json::Value, HostError> {
        take!(self, Request::Docker(call.clone()), Json)
    }

    fn probe_pidfd(&self) -> Result<PidfdProbe, HostError> {
        take!(self, Request::ProbePidfd, Pidfd)
    }

    fn probe_freezer(&self, version: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError> {
        take!(self, Request::ProbeFreezer(version, dir.into()), Freezer)
    }

    fn euid(&self) -> u32 {
        self.euid
    }
}
