//! Test programs that fault on purpose; each is a binary in `src/bin`.
#![no_std]
