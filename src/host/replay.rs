//! A host served from a support bundle: every request is answered with what the original run
//! got, in the order it got it, so the checks reach the same verdicts. Nothing is read, run or
//! probed on this machine; what the bundle does not hold is unknown.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{
    Answer, CommandOutput, DirSize, DiskStat, DockerCall, Entry, FreezerProbe, FreezerVersion,
    HostError, LibpodDb, Mapping, Meta, Record, Request, Source, SourceKind,
};
use crate::sys::PidfdProbe;

/// Each request's recorded answers, and how many have been served.
type Answers = HashMap<Request, (Vec<Result<Answer, HostError>>, usize)>;

pub struct Replay {
    /// The source the bundle was recorded from: the checks take the same paths as they did then.
    kind: SourceKind,
    euid: u32,
    /// The bundle's name; `None` for a script written in a test.
    bundle: Option<String>,
    answers: Mutex<Answers>,
}

impl Replay {
    pub fn new(bundle: String, kind: SourceKind, euid: u32, records: Vec<Record>) -> Self {
        Replay::of(Some(bundle), kind, euid, records)
    }

    /// Answers written in a test (host::Script): a tree examined under `--root`, where what the
    /// script does not hold is absent rather than "not in the bundle".
    #[cfg(test)]
    pub(super) fn scripted(euid: u32, records: Vec<Record>) -> Self {
        let kind = SourceKind::Root(std::path::PathBuf::from("/script"));
        Replay::of(None, kind, euid, records)
    }

    fn of(bundle: Option<String>, kind: SourceKind, euid: u32, records: Vec<Record>) -> Self {
        let mut answers = Answers::new();
        for r in records {
            answers.entry(r.request).or_default().0.push(r.answer);
        }
        Replay {
            kind,
            euid,
            bundle,
            answers: Mutex::new(answers),
        }
    }

    /// Whether the bundle answers `request` at all.
    fn holds(&self, request: &Request) -> bool {
        self.answers
            .lock()
            .map(|a| a.contains_key(request))
            .unwrap_or(false)
    }

    /// The next recorded answer to `request`; past the last one, the last one again.
    fn next(&self, request: Request) -> Result<Answer, HostError> {
        let mut answers = self
            .answers
            .lock()
            .map_err(|_| HostError::Io("bundle state poisoned".into()))?;
        match answers.get_mut(&request) {
            Some((list, pos)) if !list.is_empty() => {
                let i = (*pos).min(list.len() - 1);
                *pos += 1;
                list[i].clone()
            }
            _ => Err(match (&self.bundle, request) {
                (Some(_), request) => {
                    HostError::Unsupported(format!("{request}: not in the bundle"))
                }
                (None, r @ (Request::Run(_) | Request::Statfs(_) | Request::Env(_))) => {
                    HostError::Unsupported(format!("{r}: not available under --root"))
                }
                (None, r @ (Request::ProbePidfd | Request::ProbeFreezer(..))) => {
                    HostError::Unsupported(format!("{r}: not available under --root"))
                }
                (None, other) => HostError::NotFound(other.to_string()),
            }),
        }
    }
}

/// Takes the answer of the expected kind out of a recorded one.
macro_rules! take {
    ($self:ident, $request:expr, $variant:ident) => {
        match $self.next($request)? {
            Answer::$variant(v) => Ok(v),
            _ => Err(HostError::Io(
                "the bundle answers with the wrong kind of fact".into(),
            )),
        }
    };
}

impl Source for Replay {
    fn kind(&self) -> SourceKind {
        self.kind.clone()
    }

    fn replayed_from(&self) -> Option<String> {
        self.bundle.clone()
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, HostError> {
        take!(self, Request::Read(path.into()), Bytes)
    }

    fn read_local(&self, path: &str) -> Result<Vec<u8>, HostError> {
        take!(self, Request::ReadLocal(path.into()), Bytes)
    }

    /// Bundles made before maps files were summarized hold the whole file: parsed here.
    fn mapped_files(&self, path: &str) -> Result<Vec<Mapping>, HostError> {
        let summarized = Request::MappedFiles(path.into());
        if self.holds(&summarized) {
            take!(self, summarized, Mappings)
        } else {
            self.read(path)
                .map(|b| crate::parse::proc_maps::mappings(&String::from_utf8_lossy(&b)))
        }
    }

    fn libpod_db(&self, path: &str) -> Result<LibpodDb, HostError> {
        take!(self, Request::LibpodDb(path.into()), LibpodDb)
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

    /// Bundles made before fd directories were read in one request hold a listing and a stat
    /// of each entry: answered from those.
    fn stat_entries(&self, path: &str) -> Result<Vec<Entry>, HostError> {
        let request = Request::StatEntries(path.into());
        if self.holds(&request) {
            take!(self, request, Entries)
        } else {
            super::stat_each(self, path)
        }
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

    fn connect(&self, socket: &str) -> Result<(), HostError> {
        match self.next(Request::Connect(socket.into()))? {
            Answer::Connected => Ok(()),
            _ => Err(HostError::Io(
                "the bundle answers with the wrong kind of fact".into(),
            )),
        }
    }

    fn probe_pidfd(&self) -> Result<PidfdProbe, HostError> {
        take!(self, Request::ProbePidfd, Pidfd)
    }

    /// The day the bundle was made; a tree of files is examined today.
    fn today(&self) -> Result<super::Day, HostError> {
        if self.bundle.is_none() {
            return Ok(super::Day::by_the_clock());
        }
        // Dated rows compare days as text: anything else (a damaged or hand-edited bundle)
        // would begin them or not by accident.
        let day = take!(self, Request::Today, Date)?;
        if day.is_date() {
            Ok(day)
        } else {
            Err(HostError::Io(format!(
                "the bundle's date {:?} is not YYYY-MM-DD",
                day.0
            )))
        }
    }

    fn probe_freezer(&self, version: FreezerVersion, dir: &str) -> Result<FreezerProbe, HostError> {
        take!(self, Request::ProbeFreezer(version, dir.into()), Freezer)
    }

    fn euid(&self) -> u32 {
        self.euid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(dev: (u32, u32)) -> Meta {
        Meta {
            is_dir: false,
            is_file: true,
            mode: 0o644,
            size: 1,
            dev,
        }
    }

    fn record(request: Request, answer: Result<Answer, HostError>) -> Record {
        Record {
            request,
            answer,
            duration_us: 0,
        }
    }

    /// A bundle made before fd directories were read in one request holds a listing and a stat
    /// per fd: the same entries come out of it.
    #[test]
    fn an_older_bundles_listing_and_stats_answer_for_a_directorys_entries() {
        let old = Replay::new(
            "old.tar.gz".into(),
            SourceKind::Live,
            0,
            vec![
                record(
                    Request::ListDir("/proc/7/fd".into()),
                    Ok(Answer::Names(vec!["0".into(), "3".into()])),
                ),
                record(
                    Request::Stat("/proc/7/fd/0".into()),
                    Ok(Answer::Meta(meta((0, 24)))),
                ),
                record(
                    Request::Stat("/proc/7/fd/3".into()),
                    Err(HostError::NotFound("/proc/7/fd/3".into())),
                ),
            ],
        );
        let expected = vec![
            Entry {
                name: "0".into(),
                meta: Ok(meta((0, 24))),
            },
            Entry {
                name: "3".into(),
                meta: Err(HostError::NotFound("/proc/7/fd/3".into())),
            },
        ];
        assert_eq!(old.stat_entries("/proc/7/fd"), Ok(expected.clone()));
        let new = Replay::new(
            "new.tar.gz".into(),
            SourceKind::Live,
            0,
            vec![record(
                Request::StatEntries("/proc/7/fd".into()),
                Ok(Answer::Entries(expected.clone())),
            )],
        );
        assert_eq!(new.stat_entries("/proc/7/fd"), Ok(expected));
        assert!(matches!(
            new.stat_entries("/proc/8/fd"),
            Err(HostError::Unsupported(why)) if why.contains("not in the bundle")
        ));
    }
}
