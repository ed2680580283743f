//! Helpers shared by the provider test binaries.
pub mod stripe_doc;
