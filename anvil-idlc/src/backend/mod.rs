//! The backends: each turns the checked model into one kind of output.

pub mod c;
pub mod kernel;
pub mod markdown;
pub mod names;
pub mod rust;
pub mod rust_common;
pub mod writer;

pub use names::{fn_name, upper};
