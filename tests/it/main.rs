//! The integration tests, in one binary (one link instead of one per file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod buildkit_checks;
mod bundle;
mod bundle_bounds;
mod cgroups_live;
mod containerd_overlay;
mod criu_hosts;
mod docker_buildkit;
mod docker_overlay;
mod dockerfiles;
mod engines_overlay;
mod escaping;
mod fix_files;
mod fix_namespaces;
mod fix_progress;
mod fixes;
mod fleet;
mod freezer_engines;
mod hung_filesystem;
mod in_container;
mod kernel_config;
mod live;
mod outputs;
mod overlay_live;
mod parsers;
mod realdata_parsers;
mod redteam;
mod rooted;
mod rooted_cgroups;
mod runtime_versions;
mod schema;
mod tui;
