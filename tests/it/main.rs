//! The integration tests, in one binary (one link instead of one per file).

mod common;

mod buildkit_checks;
mod bundle;
mod cgroups_live;
mod criu_hosts;
mod docker_buildkit;
mod docker_overlay;
mod dockerfiles;
mod fixes;
mod hung_filesystem;
mod in_container;
mod kernel_config;
mod live;
mod outputs;
mod overlay_live;
mod realdata_parsers;
mod rooted;
mod rooted_cgroups;
mod schema;
mod tui;
