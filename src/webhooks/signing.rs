//! Standard Webhooks signing (standardwebhooks.com) and the secrets behind it.
//!
//! - A secret is `whsec_` + base64 of 32 random bytes; the HMAC key is those bytes.
//! - `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`; during a
//!   rotation's overlap the old secret signs too, signatures separated by spaces.
//! - At rest a secret is sealed with the instance encryption key (XChaCha20-Poly1305, a
//!   random 24-byte nonce per value, the endpoint id as associated data so a sealed value
//!   cannot be moved to another row): base64 of nonce ‖ ciphertext.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

pub const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", B64.encode(bytes))
}

/// The HMAC key of a secret (the bytes its base64 carries).
pub fn key_bytes(secret: &str) -> Result<Vec<u8>, String> {
    let b = secret.strip_prefix(PREFIX).unwrap_or(secret);
    B64.decode(b)
        .map_err(|_| "the secret is not base64".to_string())
}

/// One `v1,<base64>` signature of `{id}.{timestamp}.{body}`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = key_bytes(secret)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[String],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let sigs: Result<Vec<_>, _> = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect();
    Ok(sigs?.join(" "))
}

fn aad(endpoint: Uuid) -> Vec<u8> {
    format!("copydesk:webhook-secret:{endpoint}").into_bytes()
}

/// Seals a secret for storage.
pub fn seal(key: &[u8; 32], endpoint: Uuid, secret: &str) -> String {
    seal_with(key, &aad(endpoint), secret)
}

/// Seals `secret` with the instance key, bound to `aad` (what the secret is for; the same
/// `aad` must open it). Also used for other instance secrets (the VAPID key).
pub fn seal_with(key: &[u8; 32], aad: &[u8], secret: &str) -> String {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret.as_bytes(),
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption does not fail");
    let mut out = nonce.to_vec();
    out.extend(ct);
    B64.encode(out)
}

/// Opens a sealed secret (fails on another key, another endpoint, or tampering).
pub fn open(key: &[u8; 32], endpoint: Uuid, sealed: &str) -> Result<String, String> {
    open_with(key, &aad(endpoint), sealed).map_err(|e| {
        if e.starts_with("cannot decrypt") {
            "cannot decrypt a webhook secret (was security.encryption_key changed?)".to_string()
        } else {
            e
        }
    })
}

/// Opens what [`seal_with`] sealed with the same `aad`.
pub fn open_with(key: &[u8; 32], aad: &[u8], sealed: &str) -> Result<String, String> {
    let raw = B64
        .decode(sealed)
        .map_err(|_| "sealed secret is not base64".to_string())?;
    if raw.len() < 24 + 16 {
        return Err("sealed secret is too short".into());
    }
    let (nonce, ct) = raw.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().expect("24 bytes");
    let cipher = XChaCha20Poly1305::new(key.into());
    let pt = cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .map_err(|_| "cannot decrypt a sealed secret".to_string())?;
    String::from_utf8(pt).map_err(|_| "sealed secret is not text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published test vector of the Standard Webhooks libraries (the same in each
    /// language's test suite, e.g. `libraries/go/webhook_test.go`, `TestWebhookSign`).
    #[test]
    fn the_standard_webhooks_test_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn several_secrets_sign_side_by_side() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(PREFIX) && key_bytes(&a).unwrap().len() == 32);
        let h = signature_header(&[a.clone(), b.clone()], "msg_1", 10, b"{}").unwrap();
        let parts: Vec<_> = h.split(' ').collect();
        assert_eq!(
            parts,
            [
                sign(&a, "msg_1", 10, b"{}").unwrap(),
                sign(&b, "msg_1", 10, b"{}").unwrap()
            ]
        );
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_row() {
        let key = [7u8; 32];
        let id = Uuid::new_v4();
        let s = new_secret();
        let sealed = seal(&key, id, &s);
        assert!(!sealed.contains(&s[6..]));
        assert_ne!(sealed, seal(&key, id, &s), "a fresh nonce per value");
        assert_eq!(open(&key, id, &sealed).unwrap(), s);
        assert!(open(&[8u8; 32], id, &sealed).is_err());
        assert!(open(&key, Uuid::new_v4(), &sealed).is_err());
    }
}
