//! The backends: each turns the checked model into one kind of output.

pub mod c;
pub mod kernel;
pub mod markdown;
pub mod rust;
pub mod rust_common;

use crate::model::{camel, snake, Interface, Method};

/// `Tcb.create` -> `tcb_create`: the name a syscall or protocol method has in both languages.
pub fn fn_name(i: &Interface, m: &Method) -> String {
    format!("{}_{}", snake(&i.name), m.name)
}

/// `CONST_NAME` form of a declaration name.
pub fn upper(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

/// `CamelCase` type name for a method-derived type (`console_write` + `Request`).
pub fn method_type(i: &Interface, m: &Method, suffix: &str) -> String {
    format!("{}{}{suffix}", i.name, camel(&m.name))
}
