//! A Host answered from a script, for the checks' unit tests: files, listings, links, stats and
//! command outputs written in the test, everything else absent. It stands for a tree examined
//! with `--root` (no statfs, no probes), so what a check does with missing facts shows too.

use std::collections::HashMap;

use super::{Answer, CommandOutput, Host, HostError, Meta, Record, Replay, Request};

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
                remembered: None,
            })),
        )
    }

    pub fn euid(mut self, euid: u32) -> Self {
        self.euid = euid;
        self
    }

    /// A Host answering from the script, as a replayed bundle answers from its records.
    pub fn host(self) -> Host {
        let records = self
            .answers
            .into_iter()
            .map(|(request, answer)| Record {
                request,
                answer,
                duration_us: 0,
            })
            .collect();
        Host::new(Box::new(Replay::scripted(self.euid, records)))
    }
}
