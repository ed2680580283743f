//! Mandates through the door, on SQLite and PostgreSQL: the tenant's issuer key is made on
//! first use and stored sealed (a second platform on the same database with the same
//! encryption key signs with it; another encryption key cannot open it), published as a
//! JWKS, rotated (the old key stays published); an operator issues a mandate to an agent key,
//! the agent's presentation verifies against the JWKS; keys see only their own mandates and
//! cannot issue; revocation is audited.

use std::collections::BTreeSet;
use std::sync::Arc;

use fintech_core::mandate::{
    check_constraints, present, verify_chain, Amount, ClosedMandate, Constraint, Instrument,
    Merchant, NewMandate, ReasonCode, SigningKey, Usage, VerifyParams, CLOSED_VCT,
};
use fintech_core::platform::{LogQuery, NewApiKey};
use fintech_core::{Config, ErrorKind, Interface, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

async fn platform(url: &str, key: &secrecy::SecretString) -> Platform {
    Platform::builder(Config {
        database_url: url.to_owned(),
        encryption_key: Some(key.clone()),
        max_connections: 8,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .expect("platform")
}

fn payee(id: &str) -> Merchant {
    Merchant {
        id: Some(id.into()),
        name: Some(format!("Merchant {id}")),
        website: None,
    }
}

fn closed(to: &str, cents: i64) -> ClosedMandate {
    ClosedMandate {
        vct: CLOSED_VCT.into(),
        transaction_id: "checkout-1".into(),
        payee: payee(to),
        payment_amount: Amount {
            amount: cents,
            currency: "USD".into(),
        },
        payment_instrument: Instrument {
            id: "pm_card_visa".into(),
            kind: "card".into(),
            description: None,
        },
        pisp: None,
        execution_date: None,
        iat: None,
        exp: None,
    }
}

async fn scenario(backend: &str, url: String) {
    let enc = fintech_core::crypto::SecretBox::generate_key();
    let p1 = platform(&url, &enc).await;
    let tenant = p1
        .create_tenant("mandates", Interface::Cli)
        .await
        .expect("tenant");
    let admin = Principal::system(tenant.id.clone(), Interface::Cli);
    let mk_key = |name: &str| NewApiKey {
        name: name.into(),
        scopes: BTreeSet::from([Scope::PaymentsRead, Scope::PaymentsWrite]),
        limits: Default::default(),
    };
    let agent_key = p1
        .create_api_key(&admin, mk_key("agent"), None)
        .await
        .expect("key")
        .into_value();
    let other_key = p1
        .create_api_key(&admin, mk_key("other"), None)
        .await
        .expect("key")
        .into_value();
    let agent_p = p1
        .authenticate(&agent_key.secret, Interface::Mcp)
        .await
        .expect("auth");
    let other_p = p1
        .authenticate(&other_key.secret, Interface::Mcp)
        .await
        .expect("auth");

    // The JWKS makes the key on first use; a second instance sees the same key.
    let jwks = p1.mandate_issuer_jwks(&agent_p).await.expect("jwks");
    assert_eq!(jwks.keys.len(), 1);
    let first_kid = jwks.keys[0].kid.clone().expect("kid");
    let p2 = platform(&url, &enc).await;
    assert_eq!(p2.mandate_issuer_jwks(&admin).await.expect("jwks"), jwks);

    // The operator grants the agent 50 USD per payment, 120 USD in all, two payees.
    let agent = SigningKey::generate("agent-1").expect("agent key");
    let req = |constraints: Vec<Constraint>| NewMandate {
        api_key_id: agent_key.key.id.clone(),
        agent_jwk: agent.public_jwk(),
        constraints,
        ttl_secs: Some(600),
    };
    let constraints = vec![
        Constraint::AmountRange {
            currency: "USD".into(),
            max: 5000,
            min: None,
        },
        Constraint::Budget {
            max: serde_json::Number::from(120),
            currency: "USD".into(),
        },
        Constraint::AllowedPayees {
            allowed: vec![payee("acct_a"), payee("acct_b")],
        },
    ];
    // An agent key cannot grant itself a mandate; bad constraints change nothing.
    let refused = p1.issue_mandate(&agent_p, req(constraints.clone())).await;
    assert_eq!(refused.expect_err("scope").kind(), ErrorKind::Forbidden);
    let bad = p1
        .issue_mandate(
            &admin,
            req(vec![Constraint::AmountRange {
                currency: "XXX".into(),
                max: 5000,
                min: None,
            }]),
        )
        .await;
    assert_eq!(bad.expect_err("currency").kind(), ErrorKind::Validation);
    assert!(p1.mandates(&admin, None).await.expect("list").is_empty());

    // Issued by the second instance: it signs with the key the first one made.
    let issued = p2
        .issue_mandate(&admin, req(constraints.clone()))
        .await
        .expect("issue");
    assert_eq!(issued.issuer_kid, first_kid);
    assert_eq!(issued.mandate.constraints, constraints);

    // The agent presents it; it verifies against the published JWKS.
    let now = chrono::Utc::now().timestamp();
    let token = present(
        &issued.token,
        &agent,
        &closed("acct_a", 2500),
        "fintech",
        "n1",
        now,
    )
    .expect("present");
    let params = VerifyParams {
        trusted_issuers: &jwks.keys,
        now,
        clock_skew_seconds: 300,
        expected_aud: "fintech",
        expected_nonce: "n1",
    };
    let chain = verify_chain(&token, &params).expect("verifies");
    assert_eq!(chain.mandate_digest, issued.mandate_digest);
    check_constraints(&chain, Usage::default(), now, None).expect("within");
    let elsewhere = present(
        &issued.token,
        &agent,
        &closed("acct_c", 2500),
        "fintech",
        "n1",
        now,
    )
    .expect("present");
    let chain = verify_chain(&elsewhere, &params).expect("authentic");
    assert_eq!(
        check_constraints(&chain, Usage::default(), now, None)
            .expect_err("payee")
            .code,
        ReasonCode::PayeeNotAllowed
    );

    // Lists: the admin sees it, the agent its own, another key none of it.
    assert_eq!(p1.mandates(&admin, None).await.expect("list").len(), 1);
    assert_eq!(p1.mandates(&agent_p, None).await.expect("list").len(), 1);
    assert!(p1.mandates(&other_p, None).await.expect("list").is_empty());
    assert_eq!(
        p1.mandates(&other_p, Some(&agent_key.key.id))
            .await
            .expect_err("foreign")
            .kind(),
        ErrorKind::Forbidden
    );

    // Rotation: a new signing key; the old one stays published; new mandates use the new one.
    let rotated = p1.rotate_mandate_issuer_key(&admin).await.expect("rotate");
    assert_ne!(rotated.kid.as_deref(), Some(first_kid.as_str()));
    let jwks2 = p2.mandate_issuer_jwks(&admin).await.expect("jwks");
    assert_eq!(jwks2.keys.len(), 2);
    assert!(jwks2
        .keys
        .iter()
        .any(|k| k.kid.as_deref() == Some(&first_kid)));
    let second = p2
        .issue_mandate(&admin, req(constraints.clone()))
        .await
        .expect("issue");
    assert_eq!(Some(second.issuer_kid.clone()), rotated.kid);

    // Revocation is recorded and audited; revoking again answers the same record.
    let revoked = p1.revoke_mandate(&admin, &issued.id).await.expect("revoke");
    assert!(revoked.revoked_at.is_some());
    let again = p1.revoke_mandate(&admin, &issued.id).await.expect("again");
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert_eq!(
        p1.revoke_mandate(&agent_p, &second.id)
            .await
            .expect_err("scope")
            .kind(),
        ErrorKind::Forbidden
    );
    let log = p1
        .audit_log(&admin, LogQuery::default())
        .await
        .expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    for a in ["mandates.issue", "mandates.rotate_key", "mandates.revoke"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }

    // The private key is sealed: a platform with another encryption key cannot sign.
    let stranger = platform(&url, &fintech_core::crypto::SecretBox::generate_key()).await;
    assert!(stranger
        .issue_mandate(&admin, req(constraints))
        .await
        .is_err());

    report(&format!("{backend} mandate scenarios: 1 passed, 0 failed"));
}

#[tokio::test]
async fn sqlite_mandates() {
    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    scenario("sqlite", url).await;
}

#[tokio::test]
async fn postgres_mandates() {
    let Some(server) = postgres_url() else { return };
    scenario(
        "postgres",
        fresh_postgres_database(&server).await.expect("db"),
    )
    .await;
}
