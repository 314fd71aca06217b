//! Parsers: plain functions from the text the system gives to types. No I/O here.

pub mod cgroup;
pub mod criu;
pub mod kernel;
pub mod mountinfo;
pub mod proc_stat;
