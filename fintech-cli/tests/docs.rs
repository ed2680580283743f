//! The walkthrough in docs/cli.md, run as written: every `fintech …` line of its first `sh`
//! block runs in an empty folder, in order, with each `prefix_…` placeholder replaced by the
//! last id with that prefix printed before it (the `fk_…` secret, the `pay_…` just created,
//! the last `txn_…` of the page shown). A command that fails fails the test, so the page
//! cannot drift from the CLI.
//!
//! Left out on purpose, as a reader would leave them: `cargo install` (the binary under test is
//! used), `events tail` and `listen` (they run until interrupted). A redirect (`> file`) is
//! dropped, and `fraud rules shadow` gets `--yes` (it asks on a terminal; here stdin is none).

use std::collections::HashMap;

use assert_cmd::Command;
use serde_json::Value;

/// The lines of the walkthrough's first `sh` block, continuations joined, comments dropped.
fn walkthrough() -> Vec<String> {
    let page = include_str!("../../docs/cli.md");
    let start = page.find("## Walkthrough").expect("a Walkthrough section");
    let rest = &page[start..];
    let open = rest.find("```sh\n").expect("an sh block") + "```sh\n".len();
    let close = rest[open..].find("\n```").expect("the block ends") + open;
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in rest[open..close].lines() {
        let code = match raw.find(" #") {
            Some(i) => &raw[..i],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        let code = code.trim_end();
        if let Some(head) = code.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        let line = std::mem::take(&mut pending).trim().to_owned();
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// Splits a command line into words, honouring double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// Records every string in `v` that looks like an id or a key secret, in output order.
fn remember(v: &Value, seen: &mut HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some((prefix, rest)) = s.split_once('_') {
                let plausible = !prefix.is_empty()
                    && prefix.len() <= 4
                    && prefix.chars().all(|c| c.is_ascii_lowercase())
                    && rest.len() >= 8
                    && rest.chars().all(|c| c.is_ascii_alphanumeric());
                if plausible {
                    seen.insert(format!("{prefix}_"), s.clone());
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| remember(x, seen)),
        Value::Object(m) => m.values().for_each(|x| remember(x, seen)),
        _ => {}
    }
}

#[test]
fn the_cli_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().expect("dir");
    let starter = include_str!("../../fintech-core/rules/starter.toml");
    std::fs::write(dir.path().join("my-rules.toml"), starter).expect("my-rules.toml");
    std::fs::write(dir.path().join("candidate.toml"), starter).expect("candidate.toml");
    std::fs::write(
        dir.path().join("labelled.csv"),
        "at,amount,currency,payer,payee,payment_method,ip,country,label\n\
         2026-01-05T14:03:00Z,12.50,USD,cus_1,acme,pm_1,10.0.0.1,US,legit\n\
         2026-01-05T14:03:20Z,1.00,USD,cus_9,shop_4,pm_x,203.0.113.7,US,fraud\n",
    )
    .expect("labelled.csv");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fintech.db").display()
    );
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    for line in walkthrough() {
        let mut w = words(&line);
        let mut env = Vec::new();
        while w
            .first()
            .is_some_and(|x| x.contains('=') && !x.starts_with('-'))
        {
            let assignment = w.remove(0);
            let (k, v) = assignment.split_once('=').expect("NAME=value");
            env.push((k.to_owned(), v.to_owned()));
        }
        if w.first().map(String::as_str) != Some("fintech") {
            continue; // cargo install …
        }
        if let Some(i) = w.iter().position(|x| x == ">") {
            w.truncate(i);
        }
        let args: Vec<String> = w[1..].to_vec();
        let joined = args.join(" ");
        if joined.starts_with("events tail") || joined.starts_with("listen") {
            continue;
        }
        let mut args = args;
        if joined.starts_with("fraud rules shadow") {
            args.push("--yes".into());
        }
        let mut missing = None;
        let substitute = |x: &str, missing: &mut Option<String>| -> String {
            match x.split_once('…') {
                Some((prefix, _)) => seen.get(prefix).cloned().unwrap_or_else(|| {
                    *missing = Some(prefix.to_owned());
                    x.to_owned()
                }),
                None => x.to_owned(),
            }
        };
        let args: Vec<String> = args.iter().map(|a| substitute(a, &mut missing)).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v, &mut missing)))
            .collect();
        if let Some(prefix) = missing {
            failures.push(format!("{line}: no {prefix}… printed before it"));
            continue;
        }
        let mut cmd = Command::cargo_bin("fintech").expect("binary");
        cmd.current_dir(dir.path())
            .env_remove("FINTECH_API_KEY")
            .env_remove("FINTECH_TENANT")
            .env("FINTECH_DATABASE_URL", &url)
            .args(&args)
            .args(["--output", "json"]);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        ran += 1;
        if !out.status.success() {
            failures.push(format!(
                "{line}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            remember(&v, &mut seen);
        }
    }
    assert!(
        ran >= 40,
        "the walkthrough was found and run ({ran} commands)"
    );
    assert!(
        failures.is_empty(),
        "docs/cli.md walkthrough lines that fail:\n{}",
        failures.join("\n")
    );
}
