//! The `fintech` operator CLI.
fn main() {}
