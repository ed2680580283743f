//! Runnable programs that embed the fintech SDK (`src/bin/quickstart.rs`), and the
//! documentation's Rust snippets, compiled: README.md and every page under docs/ are this
//! crate's documentation, so `cargo test -p fintech-examples --doc` compiles each `rust` block
//! in them (blocks in other languages are left alone). A snippet that stops compiling against
//! the SDK fails the build; none is `ignore`d.

/// README.md.
#[doc = include_str!("../../README.md")]
pub mod readme {}

/// docs/quickstart.md.
#[doc = include_str!("../../docs/quickstart.md")]
pub mod quickstart {}

/// docs/fraud.md.
#[doc = include_str!("../../docs/fraud.md")]
pub mod fraud {}

/// docs/cli.md.
#[doc = include_str!("../../docs/cli.md")]
pub mod cli {}

/// docs/http-api.md.
#[doc = include_str!("../../docs/http-api.md")]
pub mod http_api {}

/// docs/mcp.md.
#[doc = include_str!("../../docs/mcp.md")]
pub mod mcp {}

/// docs/providers.md.
#[doc = include_str!("../../docs/providers.md")]
pub mod providers {}

/// docs/operations.md.
#[doc = include_str!("../../docs/operations.md")]
pub mod operations {}

/// docs/performance.md.
#[doc = include_str!("../../docs/performance.md")]
pub mod performance {}

/// docs/security.md.
#[doc = include_str!("../../docs/security.md")]
pub mod security {}

/// docs/deploy.md.
#[doc = include_str!("../../docs/deploy.md")]
pub mod deploy {}

/// docs/mandates.md.
#[doc = include_str!("../../docs/mandates.md")]
pub mod mandates {}

/// docs/reliability.md.
#[doc = include_str!("../../docs/reliability.md")]
pub mod reliability {}

/// docs/ARCHITECTURE.md.
#[doc = include_str!("../../docs/ARCHITECTURE.md")]
pub mod architecture {}

#[cfg(test)]
mod tests {
    /// Every page under docs/ is included above: a new page cannot escape the doc tests.
    #[test]
    fn every_doc_page_is_compiled() {
        let lib = include_str!("lib.rs");
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&docs).expect("docs/") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".md")
                && !lib.contains(&format!("include_str!(\"../../docs/{name}\")"))
            {
                missing.push(name);
            }
        }
        assert!(
            missing.is_empty(),
            "include these in examples/src/lib.rs: {missing:?}"
        );
    }
}
