//! OIDC sign-in against a local identity provider of the test's own (discovery + JWKS over
//! real HTTP), with ES256 ID tokens signed here: valid tokens sign in with the mapped role and
//! the session works on the API; wrong audience, issuer, key, algorithm, expiry, unverified
//! e-mail or no role are refused. Identities are linked by (issuer, subject): an identity
//! never takes over an existing user by e-mail (a password user or another identity's), and
//! a token without a verified e-mail is refused unless configured otherwise (SQLite and
//! PostgreSQL).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use fintech_core::{Config, Interface, Platform, Principal, Role};
use fintech_providers::SimProviders;
use fintech_server::oidc::OidcConfig;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use http_body_util::BodyExt;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The provider's signing key (P-256, generated for this test only) and its public half.
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAgr2qmvaBRL+ALo+
ZIuLCYTvp123piXryhmdsv+TedqhRANCAAQOugok3o4ba7SfhZy7ist5eS+cfVm9
qOCHdPH1Rbqb/V+UCDkk/bwuh5RT/mBmD9z7IhqD4E3PkSYJJXN0QYC1
-----END PRIVATE KEY-----
";
const X: &str = "DroKJN6OG2u0n4Wcu4rLeXkvnH1Zvajgh3Tx9UW6m_0";
const Y: &str = "X5QIOST9vC6HlFP-YGYP3PsiGoPgTc-RJgklc3RBgLU";
/// Another key, not published by the provider.
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgN/bCYPxEBlAhp/7J
lfa0GBOQUB6uxIAwuOqoRRqEohGhRANCAATJuThUmcyPVOGnCh6q5rSqYpmb+PCN
0ZgKR2zLxVU/6DuSEAV/npjEE+VXDgUwBQuwnkhcTjReNiguvvsx7CM8
-----END PRIVATE KEY-----
";
const AUDIENCE: &str = "fintech-console";

async fn provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let disc = issuer.clone();
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let issuer = disc.clone();
                async move { Json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") })) }
            }),
        )
        .route(
            "/jwks",
            get(|| async {
                Json(json!({ "keys": [{
                    "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "k1", "alg": "ES256", "use": "sig"
                }]}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    issuer
}

fn token(key: &str, alg: Algorithm, claims: Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some("k1".into());
    let k = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(X.as_bytes()),
        _ => EncodingKey::from_ec_pem(key.as_bytes()).unwrap(),
    };
    encode(&h, &claims, &k).unwrap()
}

async fn post(
    router: &Router,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get_status(router: &Router, path: &str, bearer: &str) -> StatusCode {
    let req = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn oidc_sign_in_maps_roles_and_refuses_bad_tokens() {
    let issuer = provider().await;
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::builder(Config {
        database_url: format!("sqlite://{}/oidc.db?mode=rwc", dir.path().display()),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .unwrap();
    let tenant = platform
        .create_tenant("idp", Interface::Http)
        .await
        .unwrap();
    let options = ServerOptions {
        oidc: Some(OidcConfig {
            issuer: issuer.clone(),
            audience: AUDIENCE.into(),
            tenant: tenant.id.clone(),
            role_claim: "groups".into(),
            role_map: fintech_server::oidc::parse_role_map("fintech-admins=admin,ops=operator")
                .unwrap(),
            allow_unverified_email: false,
        }),
        ..ServerOptions::default()
    };
    let router = app(AppState::new(platform.clone(), options));
    let now = chrono::Utc::now().timestamp();
    let claims = |groups: Value| {
        json!({ "iss": issuer, "aud": AUDIENCE, "sub": "u1", "email": "Ada@Example.com",
                "email_verified": true, "groups": groups, "iat": now, "exp": now + 300 })
    };

    // an admin by group mapping: signs in, and the session works on admin routes
    let (status, body) = post(&router, "/v1/auth/oidc", None, json!({ "id_token": token(KEY, Algorithm::ES256, claims(json!(["staff", "fintech-admins"]))) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_status(&router, "/v1/keys", &access).await,
        StatusCode::OK
    );
    let users = platform
        .users(&fintech_core::Principal::system(
            tenant.id.clone(),
            Interface::Http,
        ))
        .await
        .unwrap();
    assert_eq!(users.len(), 1, "created on first sign-in");
    assert_eq!(users[0].email, "ada@example.com");
    assert_eq!(users[0].role, Role::Admin);

    // the provider's role wins on the next sign-in: now an operator, no admin routes
    let (status, body) = post(
        &router,
        "/v1/auth/oidc",
        None,
        json!({ "id_token": token(KEY, Algorithm::ES256, claims(json!("ops"))) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_status(&router, "/v1/keys", &access).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get_status(&router, "/v1/payments", &access).await,
        StatusCode::OK
    );

    // refusals
    let mut wrong_aud = claims(json!("ops"));
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims(json!("ops"));
    wrong_iss["iss"] = json!("https://evil.example.com");
    let mut expired = claims(json!("ops"));
    expired["exp"] = json!(now - 3600);
    let mut unverified = claims(json!("ops"));
    unverified["email_verified"] = json!(false);
    let mut no_email = claims(json!("ops"));
    no_email.as_object_mut().unwrap().remove("email");
    for (what, t) in [
        ("wrong audience", token(KEY, Algorithm::ES256, wrong_aud)),
        ("wrong issuer", token(KEY, Algorithm::ES256, wrong_iss)),
        ("expired", token(KEY, Algorithm::ES256, expired)),
        (
            "unverified e-mail",
            token(KEY, Algorithm::ES256, unverified),
        ),
        ("no e-mail", token(KEY, Algorithm::ES256, no_email)),
        (
            "no fintech role",
            token(KEY, Algorithm::ES256, claims(json!(["staff"]))),
        ),
        (
            "key not published",
            token(OTHER_KEY, Algorithm::ES256, claims(json!("ops"))),
        ),
        (
            "symmetric algorithm",
            token(KEY, Algorithm::HS256, claims(json!("ops"))),
        ),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let (status, body) = post(&router, "/v1/auth/oidc", None, json!({ "id_token": t })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["code"], "unauthenticated", "{what}");
    }
    // a server without OIDC answers 404
    let plain = app(AppState::new(platform.clone(), ServerOptions::default()));
    let (status, _) = post(&plain, "/v1/auth/oidc", None, json!({ "id_token": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn linking_scenario(backend: &str, url: String) {
    let issuer = provider().await;
    let platform = Platform::builder(Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .unwrap();
    let tenant = platform
        .create_tenant("linking", Interface::Http)
        .await
        .unwrap();
    let admin = Principal::system(tenant.id.clone(), Interface::Http);
    let router_with = |allow_unverified_email: bool| {
        app(AppState::new(
            platform.clone(),
            ServerOptions {
                oidc: Some(OidcConfig {
                    issuer: issuer.clone(),
                    audience: AUDIENCE.into(),
                    tenant: tenant.id.clone(),
                    role_claim: "roles".into(),
                    role_map: vec![],
                    allow_unverified_email,
                }),
                ..ServerOptions::default()
            },
        ))
    };
    let router = router_with(false);
    let now = chrono::Utc::now().timestamp();
    let claims = |sub: &str, email: &str, role: &str| {
        json!({ "iss": issuer, "aud": AUDIENCE, "sub": sub, "email": email,
                "email_verified": true, "roles": [role], "iat": now, "exp": now + 300 })
    };
    let sign_in = |router: Router, claims: Value| async move {
        post(
            &router,
            "/v1/auth/oidc",
            None,
            json!({ "id_token": token(KEY, Algorithm::ES256, claims) }),
        )
        .await
    };
    let users = || async { platform.users(&admin).await.unwrap() };

    // a local password user
    let ops = platform
        .create_user(&admin, "ops@example.com", Role::Viewer, None)
        .await
        .unwrap();
    platform
        .set_user_password(&admin, &ops.id, "correct horse battery")
        .await
        .unwrap();

    // an identity with its e-mail (verified, with an admin role) does not take it over
    let (status, body) = sign_in(
        router.clone(),
        claims("attacker", "OPS@example.com", "admin"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "already_exists", "{body}");
    let now_users = users().await;
    assert_eq!(now_users.len(), 1, "nothing created");
    assert_eq!(now_users[0].role, Role::Viewer, "the role is unchanged");
    platform
        .login(
            &tenant.id,
            "ops@example.com",
            "correct horse battery",
            Interface::Http,
        )
        .await
        .expect("the password still signs in");

    // an e-mail the provider has not verified (claim missing or false): refused, nothing made
    let mut missing = claims("u-new", "new@example.com", "viewer");
    missing.as_object_mut().unwrap().remove("email_verified");
    let mut unverified = claims("u-new", "new@example.com", "viewer");
    unverified["email_verified"] = json!(false);
    for (what, c) in [("missing", missing.clone()), ("false", unverified)] {
        let (status, body) = sign_in(router.clone(), c).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    assert_eq!(users().await.len(), 1);
    // … unless the deployment says its provider verifies addresses without saying so
    let (status, body) = sign_in(router_with(true), missing).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(users().await.len(), 2);

    // a new identity is created and linked; the same subject with another e-mail is the same
    // user, whose role follows the provider's
    let (status, body) = sign_in(
        router.clone(),
        claims("u-ada", "ada@example.com", "operator"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sign_in(
        router.clone(),
        claims("u-ada", "ada.lovelace@example.com", "viewer"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now_users = users().await;
    assert_eq!(now_users.len(), 3, "linked by subject, not by e-mail");
    let ada = now_users
        .iter()
        .find(|u| u.email == "ada@example.com")
        .expect("ada");
    assert_eq!(ada.role, Role::Viewer);
    // another identity claiming ada's e-mail is refused too
    let (status, body) = sign_in(
        router.clone(),
        claims("u-mallory", "ada@example.com", "admin"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(users().await.len(), 3);
    report(&format!("{backend} oidc linking: 1 passed, 0 failed"));
}

#[tokio::test]
async fn sqlite_oidc_links_by_subject() {
    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    linking_scenario("sqlite", url).await;
}

#[tokio::test]
async fn postgres_oidc_links_by_subject() {
    let Some(server) = postgres_url() else { return };
    linking_scenario(
        "postgres",
        fresh_postgres_database(&server).await.expect("db"),
    )
    .await;
}
