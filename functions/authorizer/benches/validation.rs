//! Validation cost per request, warm (keys cached), for RS256 and ES256, against two baselines measured
//! in the same run: reading the token (split, base64, JSON) and the bare signature check in aws-lc-rs.
//!
//! Run: `cargo bench -p contrail-authorizer --bench validation --profile bench-release`

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents as RsaPublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contrail_authorizer::{State, authorize};
use contrail_shared::auth::{AuthConfig, KeySources};
use serde_json::json;

const ISSUER: &str = "https://idp.bench.contrail.dev/";
const AUDIENCE: &str = "contrail-api";
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/flights/LH400-2026-11-25-FRA";

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// Median time per call over several rounds.
fn measure(rounds: usize, per_round: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..per_round / 4 {
        f();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_round {
                f();
            }
            start.elapsed() / per_round as u32
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// Split, base64-decode and JSON-parse header and claims: what any verifier pays before crypto.
fn read_token(token: &str) -> usize {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default()).unwrap_or_default();
    let claims = URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default()).unwrap_or_default();
    let signature = URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default()).unwrap_or_default();
    let h: serde_json::Value = serde_json::from_slice(&header).unwrap_or_default();
    let c: serde_json::Value = serde_json::from_slice(&claims).unwrap_or_default();
    h.as_object().map_or(0, |o| o.len()) + c.as_object().map_or(0, |o| o.len()) + signature.len()
}

struct Case {
    name: &'static str,
    token: String,
    jwks: String,
    raw_verify: Box<dyn Fn() -> bool>,
}

fn rs256_case(claims: &str) -> Case {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa key");
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwks =
        json!({"keys": [{"kty": "RSA", "kid": "rsa", "alg": "RS256", "n": b64(&c.n), "e": b64(&c.e)}]}).to_string();
    let message = format!("{}.{}", b64(br#"{"alg":"RS256","typ":"JWT","kid":"rsa"}"#), b64(claims.as_bytes()));
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut sig).expect("sign");
    let token = format!("{message}.{}", b64(&sig));
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
        .expect("der")
        .as_ref()
        .to_vec();
    let raw_verify = Box::new(move || {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).verify(message.as_bytes(), &sig).is_ok()
    });
    Case { name: "RS256", token, jwks, raw_verify }
}

fn es256_case(claims: &str) -> Case {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec key");
    let point = pair.public_key().as_ref().to_vec();
    let jwks =
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(&point[1..33]), "y": b64(&point[33..])}]})
            .to_string();
    let message = format!("{}.{}", b64(br#"{"alg":"ES256","typ":"JWT","kid":"ec"}"#), b64(claims.as_bytes()));
    let sig = pair.sign(&SystemRandom::new(), message.as_bytes()).expect("sign").as_ref().to_vec();
    let token = format!("{message}.{}", b64(&sig));
    let raw_verify = Box::new(move || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(message.as_bytes(), &sig).is_ok()
    });
    Case { name: "ES256", token, jwks, raw_verify }
}

fn main() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "scope": "flights:read", "iat": now,
                        "exp": now + 3600, "client_id": "app-client-7"})
    .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (rounds, per_round) = (15, 2_000);

    println!("authorizer validation, warm keys, median of {rounds} rounds x {per_round} calls");
    println!(
        "{:<6} {:>12} {:>14} {:>12} {:>14} {:>16} {:>9}",
        "alg", "read token", "raw verify", "verify()", "authorize()", "vs raw verify", "target"
    );
    for case in [rs256_case(&claims), es256_case(&claims)] {
        let keys = KeySources { jwks_url: None, jwks_inline: Some(case.jwks.clone()), hs256_secret: None };
        let state = State::new(AuthConfig::new(ISSUER, AUDIENCE, keys)).expect("state");
        let header = format!("Bearer {}", case.token);
        let ok = runtime.block_on(authorize(&state, Some(&header), METHOD_ARN)).map(|v| v.is_allow());
        assert_eq!(ok, Ok(true), "{}: the benchmark token must be accepted", case.name);
        assert!((case.raw_verify)());

        let read = measure(rounds, per_round, || {
            black_box(read_token(black_box(&case.token)));
        });
        let raw = measure(rounds, per_round, || {
            black_box((case.raw_verify)());
        });
        let (verify, full) = runtime.block_on(async {
            let mut verify = Duration::ZERO;
            let mut full = Duration::ZERO;
            for (slot, with_policy) in [(&mut verify, false), (&mut full, true)] {
                let mut samples = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    let start = Instant::now();
                    for _ in 0..per_round {
                        if with_policy {
                            black_box(authorize(&state, Some(black_box(&header)), METHOD_ARN).await.is_ok());
                        } else {
                            black_box(state.verifier().verify(black_box(&case.token)).await.is_ok());
                        }
                    }
                    samples.push(start.elapsed() / per_round as u32);
                }
                samples.sort();
                *slot = samples[samples.len() / 2];
            }
            (verify, full)
        });
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{:<6} {:>9.2} µs {:>11.2} µs {:>9.2} µs {:>11.2} µs {:>15.2}x {:>9}",
            case.name,
            us(read),
            us(raw),
            us(verify),
            us(full),
            us(full) / us(raw),
            if us(full) <= 100.0 { "<=100µs" } else { "MISSED" }
        );
    }
}
