//! The metering gateway: prices, estimates, and who pays.

pub mod catalog;
pub mod pricing;
