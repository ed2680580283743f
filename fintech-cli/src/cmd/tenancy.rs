//! Users and API keys of the tenant.

use crate::*;

/// `fintech users …`
pub(crate) async fn users(
    p: &Platform,
    op: &Principal,
    command: &UserCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        UserCmd::List => {
            let us = p.users(op).await?;
            let rows = us
                .iter()
                .map(|u| vec![u.id.to_string(), u.email.clone(), u.role.as_str().into()])
                .collect();
            show(fmt, &us, &["ID", "EMAIL", "ROLE"], rows);
        }
        UserCmd::Create { email, role } => {
            let u = crate::output::value(p.create_user(op, email, Role::parse(role)?, None).await?);
            show(
                fmt,
                &u,
                &["ID", "EMAIL", "ROLE"],
                vec![vec![
                    u.id.to_string(),
                    u.email.clone(),
                    u.role.as_str().into(),
                ]],
            );
        }
        UserCmd::Password { user } => {
            let password = match std::env::var("FINTECH_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| usage(format!("reading the password from stdin: {e}")))?;
                    line.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            p.set_user_password(op, &UserId::parse(user)?, &password)
                .await?;
            note!("password set");
        }
    }
    Ok(())
}

/// `fintech keys …`
pub(crate) async fn keys(
    p: &Platform,
    op: &Principal,
    command: &KeyCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        KeyCmd::Create {
            name,
            scopes,
            limits: l,
        } => {
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s.trim()))
                .collect::<fintech_core::Result<BTreeSet<_>>>()?;
            let created = crate::output::value(
                p.create_api_key(
                    op,
                    NewApiKey {
                        name: name.clone(),
                        scopes,
                        limits: limits(l)?,
                    },
                    None,
                )
                .await?,
            );
            note!("the secret is shown once; store it now");
            show(
                fmt,
                &created,
                &["ID", "SECRET"],
                vec![vec![created.key.id.to_string(), created.secret.clone()]],
            );
        }
        KeyCmd::List => {
            let ks = p.api_keys(op).await?;
            let rows = ks
                .iter()
                .map(|k| {
                    let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                    vec![
                        k.id.to_string(),
                        k.name.clone(),
                        k.prefix.clone(),
                        scopes.join(","),
                        opt(&k
                            .last_used_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())),
                        if k.revoked_at.is_some() {
                            "revoked".into()
                        } else {
                            "active".into()
                        },
                    ]
                })
                .collect();
            show(
                fmt,
                &ks,
                &["ID", "NAME", "PREFIX", "SCOPES", "LAST USED", "STATE"],
                rows,
            );
        }
        KeyCmd::Revoke { id } => {
            p.revoke_api_key(op, &ApiKeyId::parse(id)?, None).await?;
            note!("revoked {id}");
        }
        KeyCmd::Limits { id, limits: l } => {
            let k = crate::output::value(
                p.set_key_limits(op, &ApiKeyId::parse(id)?, limits(l)?, None)
                    .await?,
            );
            show(
                fmt,
                &k,
                &["ID", "LIMITS"],
                vec![vec![
                    k.id.to_string(),
                    serde_json::to_string(&k.limits).unwrap_or_default(),
                ]],
            );
        }
        KeyCmd::Usage { id } => {
            let usage = p.api_key_usage(op, &ApiKeyId::parse(id)?).await?;
            let rows = usage
                .iter()
                .map(|u| vec![u.day.clone(), u.requests.to_string()])
                .collect();
            show(fmt, &usage, &["DAY", "REQUESTS"], rows);
        }
    }
    Ok(())
}
