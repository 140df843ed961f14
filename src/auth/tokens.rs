//! Access tokens (JWT, HS256, short-lived) and opaque random tokens (refresh, email links,
//! invitations).
//!
//! Opaque tokens are 256 random bits, base64url, and only their SHA-256 is stored: a leaked
//! database does not yield usable tokens, and lookups by hash stay indexed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::AuthSettings;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The user's `token_version` at issue; bumping it (logout, password reset) voids every
    /// access token issued before.
    pub ver: i32,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// The refresh-token family (sign-in) this access token belongs to, so "end every other
    /// session" can keep the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: u64,
    leeway_secs: i64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], cfg: &AuthSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = cfg.leeway_secs;
        // Expiry is checked against the injectable clock in `verify`, not the system time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            ttl_secs: cfg.access_ttl_secs,
            leeway_secs: cfg.leeway_secs as i64,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A signed access token for `user_id` at `version`, issued at `now`; and its expiry.
    pub fn issue(
        &self,
        user_id: Uuid,
        version: i32,
        sid: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let now = now.timestamp();
        let claims = Claims {
            sub: user_id,
            ver: version,
            iat: now,
            exp: now + self.ttl_secs as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            sid,
        };
        let exp = DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
        Ok((
            encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?,
            exp,
        ))
    }

    /// The claims of a genuine, unexpired (at `now`, with the configured leeway) token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<Claims> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.exp + self.leeway_secs > now.timestamp()).then_some(claims)
    }
}

/// When a token's access ends (its `exp`).
pub fn expiry(claims: &Claims) -> DateTime<Utc> {
    DateTime::from_timestamp(claims.exp, 0).unwrap_or_default()
}

/// A fresh opaque token and the hash to store for it.
pub fn opaque() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_opaque(&token);
    (token, hash)
}

pub fn hash_opaque(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(leeway: u64) -> JwtKeys {
        let cfg = AuthSettings {
            leeway_secs: leeway,
            ..AuthSettings::default()
        };
        JwtKeys::new(b"0123456789abcdef0123456789abcdef", &cfg)
    }

    #[test]
    fn round_trip_and_tamper() {
        let k = keys(5);
        let id = Uuid::new_v4();
        let now = Utc::now();
        let (t, _) = k.issue(id, 3, None, now).unwrap();
        let c = k.verify(&t, now).unwrap();
        assert_eq!((c.sub, c.ver), (id, 3));
        let mut bad = t.clone();
        bad.pop();
        assert!(k.verify(&bad, now).is_none());
        // Expiry follows the clock it is given.
        assert!(k
            .verify(&t, now + chrono::Duration::seconds(15 * 60 + 10))
            .is_none());
        let other = JwtKeys::new(
            b"another-secret-another-secret-xx",
            &AuthSettings::default(),
        );
        assert!(other.verify(&t, now).is_none());
    }

    #[test]
    fn expired_and_wrong_audience_rejected() {
        let k = keys(0);
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: Uuid::new_v4(),
            ver: 0,
            iat: now - 100,
            exp: now - 10,
            iss: "copydesk".into(),
            aud: "copydesk-api".into(),
            jti: Uuid::new_v4(),
            sid: None,
        };
        let t = encode(&Header::default(), &claims, &k.encoding).unwrap();
        assert!(k.verify(&t, Utc::now()).is_none());
        let claims = Claims {
            exp: now + 100,
            aud: "someone-else".into(),
            ..claims
        };
        let t = encode(&Header::default(), &claims, &k.encoding).unwrap();
        assert!(k.verify(&t, Utc::now()).is_none());
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let (a, ha) = opaque();
        let (b, _) = opaque();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_opaque(&a), ha);
        assert_ne!(a, ha);
    }
}
