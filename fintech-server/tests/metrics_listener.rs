//! The binary serves `/metrics` on its own listen address (`--metrics-addr`), not on the API's,
//! and `--metrics-addr off` serves it nowhere.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, api: u16, metrics: &str) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_fintech-server"))
            .args([
                "--addr",
                &format!("127.0.0.1:{api}"),
                "--metrics-addr",
                metrics,
                "--no-demo",
            ])
            .env_remove("FINTECH_METRICS_ADDR")
            .env_remove("FINTECH_DATABASE_URL")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fintech-server"),
    )
}

async fn status(client: &reqwest::Client, url: &str) -> Option<u16> {
    client
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Polls until the API answers (the server is up), at most about 60 s.
async fn wait_ready(client: &reqwest::Client, api: u16) {
    for _ in 0..600 {
        if status(client, &format!("http://127.0.0.1:{api}/healthz")).await == Some(200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fintech-server did not start");
}

#[tokio::test]
async fn metrics_have_their_own_listener() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("dir");
    let (api, metrics) = (free_port(), free_port());
    let server = start(dir.path(), api, &format!("127.0.0.1:{metrics}"));
    wait_ready(&client, api).await;
    let res = client
        .get(format!("http://127.0.0.1:{metrics}/metrics"))
        .send()
        .await
        .expect("metrics listener");
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.expect("body");
    assert!(
        text.contains("fintech_http_requests_total"),
        "the healthz request is counted: {text}"
    );
    assert_eq!(
        status(&client, &format!("http://127.0.0.1:{api}/metrics")).await,
        Some(404),
        "not on the public listener"
    );
    drop(server);

    // off: nothing listens on the metrics port
    let (api, metrics) = (free_port(), free_port());
    let _server = start(dir.path(), api, "off");
    wait_ready(&client, api).await;
    assert_eq!(
        status(&client, &format!("http://127.0.0.1:{metrics}/metrics")).await,
        None
    );
    assert_eq!(
        status(&client, &format!("http://127.0.0.1:{api}/metrics")).await,
        Some(404)
    );
}
