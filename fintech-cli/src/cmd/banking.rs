//! Bank data: link, items, accounts, sync, transactions.

use crate::*;

/// `fintech banking …`
pub(crate) async fn banking(
    p: &Platform,
    op: &Principal,
    command: &BankingCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        BankingCmd::Link { institution } => {
            let token = crate::output::value(p.sandbox_public_token(op, institution, None).await?);
            let item = crate::output::value(p.link_item(op, &token, None).await?);
            show(
                fmt,
                &item,
                &["ITEM", "INSTITUTION"],
                vec![vec![item.id.to_string(), item.institution_name.clone()]],
            );
        }
        BankingCmd::Items => {
            let items = p.items(op).await?;
            let rows = items
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.institution_name.clone(),
                        i.provider.clone(),
                    ]
                })
                .collect();
            show(fmt, &items, &["ITEM", "INSTITUTION", "PROVIDER"], rows);
        }
        BankingCmd::Accounts { item } => {
            let item = item.as_deref().map(ItemId::parse).transpose()?;
            let accts = p.bank_accounts(op, item.as_ref()).await?;
            show(
                fmt,
                &accts,
                &["ID", "NAME", "MASK", "TYPE", "CURRENT", "AVAILABLE"],
                account_rows(&accts),
            );
        }
        BankingCmd::Sync { item } => {
            let summary = sync(p, op, &ItemId::parse(item)?).await?;
            show(
                fmt,
                &summary,
                &["ADDED", "MODIFIED", "REMOVED", "PAGES"],
                vec![vec![
                    summary.added.to_string(),
                    summary.modified.to_string(),
                    summary.removed.to_string(),
                    summary.pages.to_string(),
                ]],
            );
        }
        BankingCmd::RemoveItem { item } => {
            let item = ItemId::parse(item)?;
            let i = crate::output::value(p.remove_item(op, &item, None).await?);
            show(
                fmt,
                &i,
                &["ITEM", "INSTITUTION", "PROVIDER", "REMOVED AT"],
                vec![vec![
                    i.id.to_string(),
                    i.institution_name.clone(),
                    i.provider.clone(),
                    i.removed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                ]],
            );
        }
        BankingCmd::Transactions {
            account,
            since,
            until,
            merchant,
            category,
            min_amount,
            max_amount,
            after,
            limit,
        } => {
            let q = TransactionQuery {
                account_id: account
                    .as_deref()
                    .map(fintech_core::id::BankAccountId::parse)
                    .transpose()?,
                start_date: *since,
                end_date: *until,
                merchant: merchant.clone(),
                category: category.clone(),
                min_amount: *min_amount,
                max_amount: *max_amount,
                starting_after: after
                    .as_deref()
                    .map(fintech_core::id::TransactionId::parse)
                    .transpose()?,
                limit: Some(*limit),
            };
            let txns = p.bank_transactions(op, &q).await?;
            show(
                fmt,
                &txns,
                &["ID", "DATE", "AMOUNT", "NAME", "CATEGORY", ""],
                transaction_rows(&txns),
            );
        }
    }
    Ok(())
}

fn account_rows(accts: &[fintech_core::banking::BankAccount]) -> Vec<Vec<String>> {
    accts
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.name.clone(),
                opt(&a.mask),
                a.kind.as_str().into(),
                a.current.to_string(),
                opt(&a.available),
            ]
        })
        .collect()
}

fn transaction_rows(txns: &[fintech_core::banking::BankTransaction]) -> Vec<Vec<String>> {
    txns.iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.date.to_string(),
                t.amount.to_string(),
                t.name.clone(),
                opt(&t.category),
                if t.pending {
                    "pending".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect()
}

/// Syncs an item, reporting progress on standard error (one line, rewritten on a terminal).
async fn sync(
    p: &Platform,
    op: &Principal,
    item: &ItemId,
) -> fintech_core::Result<fintech_core::banking::SyncSummary> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = move |s: fintech_core::platform::SyncProgress| {
        let n = s.changes;
        if tty {
            {
                use std::io::Write as _;
                let _ = write!(std::io::stderr(), "\rsyncing… {n} changes");
            }
        } else {
            note!("synced {n} changes");
        }
    };
    let summary = crate::output::value(p.sync_transactions(op, item, Some(&progress), None).await?);
    if tty {
        note!("");
    }
    Ok(summary)
}
