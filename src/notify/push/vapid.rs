//! VAPID (RFC 8292): the server's P-256 key pair and the `Authorization: vapid t=…, k=…`
//! header — an ES256 JWT whose `aud` is the push service's origin, `exp` at most 24 h
//! ahead (we use 12 h), `sub` the operator's contact (`push.subject`).
//!
//! The key comes from `push.vapid_private_key` (base64url of the 32-byte scalar) when set;
//! otherwise one is generated on first use and kept in `instance_secrets`, sealed with the
//! instance key, so every node (sharing `security.encryption_key`) signs with the same key
//! and browsers' subscriptions survive restarts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::SecretKey;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult};

use super::ece;
use crate::jobs::store::stmt;

/// The instance secret's name in `instance_secrets`.
pub const SECRET_NAME: &str = "vapid_private_key";
/// Lifetime of a VAPID token.
pub const TOKEN_HOURS: i64 = 12;

#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
    /// base64url of the uncompressed public key (the browser's `applicationServerKey`).
    pub public_b64: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({})", self.public_b64)
    }
}

impl VapidKey {
    pub fn from_secret(secret: SecretKey) -> Self {
        let public_b64 = B64.encode(ece::uncompressed(&secret.public_key()));
        Self { secret, public_b64 }
    }

    /// From base64url of the 32-byte private scalar.
    pub fn from_b64(s: &str) -> Result<Self, String> {
        let raw = B64
            .decode(s.trim().trim_end_matches('='))
            .map_err(|_| "not base64url".to_string())?;
        let secret =
            SecretKey::from_slice(&raw).map_err(|_| "not a P-256 private key".to_string())?;
        Ok(Self::from_secret(secret))
    }

    pub fn generate() -> Self {
        Self::from_secret(ece::random_secret())
    }

    pub fn private_b64(&self) -> String {
        B64.encode(self.secret.to_bytes())
    }

    /// The signed JWT for `endpoint`'s push service.
    pub fn token(&self, endpoint: &url::Url, subject: &str, now: DateTime<Utc>) -> String {
        let aud = endpoint.origin().ascii_serialization();
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": aud,
            "exp": (now + chrono::Duration::hours(TOKEN_HOURS)).timestamp(),
            "sub": subject,
        });
        let claims = B64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sig: Signature = SigningKey::from(&self.secret).sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(sig.to_bytes()))
    }

    /// `Authorization` for a push to `endpoint`.
    pub fn authorization(&self, endpoint: &url::Url, subject: &str, now: DateTime<Utc>) -> String {
        format!(
            "vapid t={}, k={}",
            self.token(endpoint, subject, now),
            self.public_b64
        )
    }
}

#[derive(FromQueryResult)]
struct Sealed {
    ciphertext: String,
}

fn aad() -> &'static [u8] {
    b"copydesk:instance-secret:vapid_private_key"
}

/// The configured key, or the instance's generated one (created by the first node that
/// needs it; a race between nodes keeps the first row).
pub async fn load(
    db: &DatabaseConnection,
    configured: &str,
    encryption_key: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<VapidKey, String> {
    if !configured.is_empty() {
        return VapidKey::from_b64(configured)
            .map_err(|e| format!("invalid setting `push.vapid_private_key`: {e}"));
    }
    let read = || async {
        Sealed::find_by_statement(stmt(
            db,
            "SELECT ciphertext FROM instance_secrets WHERE name = $1",
            vec![SECRET_NAME.into()],
        ))
        .one(db)
        .await
        .map_err(|e| e.to_string())
    };
    if read().await?.is_none() {
        let fresh = VapidKey::generate();
        let sealed =
            crate::webhooks::signing::seal_with(encryption_key, aad(), &fresh.private_b64());
        db.execute_raw(stmt(
            db,
            "INSERT INTO instance_secrets (name, ciphertext, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            vec![SECRET_NAME.into(), sealed.into(), now.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    }
    let row = read().await?.ok_or("the VAPID key row vanished")?;
    let b64 = crate::webhooks::signing::open_with(encryption_key, aad(), &row.ciphertext).map_err(
        |_| {
            "cannot decrypt the stored VAPID key (was security.encryption_key changed?)".to_string()
        },
    )?;
    VapidKey::from_b64(&b64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    #[test]
    fn tokens_verify_against_the_public_key() {
        let k = VapidKey::generate();
        let again = VapidKey::from_b64(&k.private_b64()).unwrap();
        assert_eq!(again.public_b64, k.public_b64);
        let url = url::Url::parse("https://push.example.net:8443/wpush/abc").unwrap();
        let now = Utc::now();
        let t = k.token(&url, "mailto:ops@example.com", now);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert!(claims["exp"].as_i64().unwrap() <= now.timestamp() + 24 * 3600);
        let vk = VerifyingKey::from_sec1_bytes(&B64.decode(&k.public_b64).unwrap()).unwrap();
        let sig = Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
        vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(k
            .authorization(&url, "mailto:x@y", now)
            .starts_with("vapid t="));
    }
}
