//! `fintech-load-peer`: the anchors of `tests/load/run.sh`, one binary.
//!
//! ```text
//! fintech-load-peer hello ADDR                    # axum hello-world at GET /
//! fintech-load-peer bare-mcp ADDR                 # bare rmcp server at /mcp
//! fintech-load-peer sqlite-raw FILE SECONDS WORKERS   # prints "raw_tps N"
//! ```

use std::time::Duration;

use anyhow::{bail, Context};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["hello", addr] => {
            let bound = fintech_load::serve(addr.parse()?, fintech_load::hello_router()).await?;
            println!("listening on http://{bound}");
            std::future::pending::<()>().await;
        }
        ["bare-mcp", addr] => {
            let bound = fintech_load::serve(addr.parse()?, fintech_load::bare_mcp_router()).await?;
            println!("listening on http://{bound}/mcp");
            std::future::pending::<()>().await;
        }
        ["sqlite-raw", file, seconds, workers] => {
            let seconds: u64 = seconds.parse().context("SECONDS")?;
            let workers: usize = workers.parse().context("WORKERS")?;
            let run = fintech_load::sqlite_raw(file, workers, Duration::from_secs(seconds)).await?;
            println!("raw_tps {:.0}", run.per_sec());
        }
        _ => bail!(
            "usage: fintech-load-peer hello ADDR | bare-mcp ADDR | sqlite-raw FILE SECONDS WORKERS"
        ),
    }
    Ok(())
}
