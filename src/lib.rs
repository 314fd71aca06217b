//! container-doctor: examines a Linux host used to build and run containers, says what is wrong
//! and why. Facts come through one [`host::Host`]; [`checks`] are pure functions of it; reports
//! only render their results.

pub mod bundle;
pub mod checks;
pub mod cli;
pub mod escape;
pub mod facts;
pub mod files;
pub mod fix;
pub mod fsmagic;
pub mod host;
pub mod interval;
pub mod model;
pub mod parallel;
pub mod parse;
pub mod report;
pub mod secrets;
pub mod summary;
pub mod sys;
pub mod tui;
pub mod units;
