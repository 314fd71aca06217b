//! Parsers: plain functions from the text the system gives to types. No I/O here.

pub mod boltdb;
pub mod buildkit;
pub mod cgroup;
pub mod containerd;
pub mod criu;
pub mod docker;
pub mod dockerfile;
pub mod go_version;
pub mod kconfig;
pub mod kernel;
pub mod libpod;
pub mod mountinfo;
pub mod oci_runtime;
pub mod overlay;
pub mod packages;
pub mod proc_maps;
pub mod proc_stat;
pub mod version;
