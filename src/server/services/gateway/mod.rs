//! The metering gateway: prices, estimates, who pays, and calls from hold to charge.

pub mod answer;
pub mod budgets;
pub mod call;
pub mod catalog;
pub mod estimate;
pub mod in_flight;
pub mod jobs;
pub mod pricing;
pub mod recovery;
pub mod replay;
pub mod request;
pub mod run;
pub mod run_cap;
pub mod units;
pub mod usage;
