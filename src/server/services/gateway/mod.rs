//! The metering gateway: prices, estimates, and who pays.

pub mod catalog;
pub mod estimate;
pub mod jobs;
pub mod pricing;
pub mod run;
pub mod run_cap;
pub mod usage;
