//! Placeholder library; see the crate description.
