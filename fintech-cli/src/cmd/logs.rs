//! The audit log and the event log.

use crate::*;

/// `fintech audit …`
pub(crate) async fn audit(
    p: &Platform,
    op: &Principal,
    command: &AuditCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        AuditCmd::List { after, limit } => {
            let rs = p
                .audit_log(
                    op,
                    LogQuery {
                        after: *after,
                        limit: Some(*limit),
                    },
                )
                .await?;
            let rows = rs
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        r.entry.actor.clone(),
                        r.entry.interface.clone(),
                        r.entry.action.clone(),
                        r.entry.object_id.clone(),
                        r.entry.outcome.clone(),
                    ]
                })
                .collect();
            show(
                fmt,
                &rs,
                &["SEQ", "ACTOR", "VIA", "ACTION", "OBJECT", "OUTCOME"],
                rows,
            );
        }
        AuditCmd::Verify => {
            let v = p.verify_audit(op).await?;
            show(
                fmt,
                &v,
                &["RECORDS", "INTACT"],
                vec![vec![v.records.to_string(), v.is_ok().to_string()]],
            );
            if let Some(b) = v.first_bad {
                return Err(Error::conflict(
                    fintech_core::ConflictCode::InvalidState,
                    format!("audit chain broken at record {}: {}", b.seq, b.reason),
                ));
            }
        }
        AuditCmd::Export => {
            let mut after = 0;
            loop {
                let page = p
                    .audit_log(
                        op,
                        LogQuery {
                            after,
                            limit: Some(500),
                        },
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for r in &page {
                    out!("{}", serde_json::to_string(r).unwrap_or_default());
                }
            }
        }
    }
    Ok(())
}

/// `fintech ledger …`
pub(crate) async fn ledger(
    p: &Platform,
    op: &Principal,
    command: &LedgerCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        LedgerCmd::Balances => {
            let bs = p.ledger_balances(op).await?;
            let rows = bs
                .iter()
                .map(|b| {
                    vec![
                        b.account.clone(),
                        b.balance.currency().code().to_owned(),
                        b.balance.amount().to_string(),
                    ]
                })
                .collect();
            show(fmt, &bs, &["ACCOUNT", "CURRENCY", "BALANCE"], rows);
        }
        LedgerCmd::Verify => {
            let v = p.verify_ledger(op).await?;
            show(
                fmt,
                &v,
                &["JOURNALS", "UNBALANCED", "MISMATCHED", "INTACT"],
                vec![vec![
                    v.journals.to_string(),
                    v.unbalanced.len().to_string(),
                    v.mismatched.len().to_string(),
                    v.is_ok().to_string(),
                ]],
            );
            if !v.is_ok() {
                let mut named: Vec<String> = v
                    .unbalanced
                    .iter()
                    .map(|j| format!("journal {j} (unbalanced)"))
                    .collect();
                named.extend(v.mismatched.iter().cloned());
                named.truncate(10);
                return Err(Error::conflict(
                    fintech_core::ConflictCode::InvalidState,
                    format!("the ledger does not agree: {}", named.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

/// `fintech backup --to FILE`
pub(crate) async fn backup(
    p: &Platform,
    op: &Principal,
    to: &std::path::Path,
    fmt: Format,
) -> fintech_core::Result<()> {
    let b = p.backup_to(op, to).await?;
    show(
        fmt,
        &b,
        &["BACKUP", "BYTES"],
        vec![vec![b.path.display().to_string(), b.bytes.to_string()]],
    );
    note!("the encryption key is not in the copy: keep FINTECH_ENCRYPTION_KEY or the database's .key file, apart from the backups");
    Ok(())
}

/// `fintech events …`
pub(crate) async fn events(
    p: &Platform,
    op: &Principal,
    command: &EventCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        EventCmd::List { after, limit } => {
            let es = p
                .events(
                    op,
                    LogQuery {
                        after: *after,
                        limit: Some(*limit),
                    },
                )
                .await?;
            let rows = es
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.event_type.clone(),
                        e.object_id.clone(),
                        e.created_at.to_rfc3339(),
                    ]
                })
                .collect();
            show(fmt, &es, &["SEQ", "TYPE", "OBJECT", "AT"], rows);
        }
        EventCmd::Tail { after } => {
            let mut after = match after {
                Some(a) => *a,
                None => {
                    // Start at the end of the log.
                    let mut last = 0;
                    loop {
                        let page = p
                            .events(
                                op,
                                LogQuery {
                                    after: last,
                                    limit: Some(500),
                                },
                            )
                            .await?;
                        match page.last() {
                            Some(e) => last = e.seq,
                            None => break last,
                        }
                    }
                }
            };
            loop {
                let page = p
                    .events(
                        op,
                        LogQuery {
                            after,
                            limit: Some(500),
                        },
                    )
                    .await?;
                for e in &page {
                    out!("{}", serde_json::to_string(e).unwrap_or_default());
                    after = e.seq;
                }
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    Ok(())
}
