//! The ledger's vocabulary: accounts, codes, requests, receipts and errors.

mod accounts;
mod errors;
mod receipts;
mod requests;

pub use accounts::*;
pub use errors::*;
pub use receipts::*;
pub use requests::*;
