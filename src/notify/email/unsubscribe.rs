//! Unsubscribe tokens: `base64url(user id ‖ target ‖ HMAC-SHA-256(key, user id ‖ target))`,
//! the key derived from the instance key for this purpose only. A token turns one type's
//! email — or the daily digest — off for one user; it never expires (links in old emails
//! keep working) and it grants nothing else.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::notify::types::NotificationType;

/// Tokens are 16 + 1 + 32 bytes: 66 base64url characters.
pub const TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{66}$";

fn key(instance_key: &[u8; 32]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(instance_key).expect("HMAC takes any key");
    mac.update(b"copydesk:notify:unsubscribe:v1");
    mac.finalize().into_bytes().to_vec()
}

fn mac(instance_key: &[u8; 32], msg: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(&key(instance_key)).expect("HMAC takes any key");
    m.update(msg);
    m
}

/// What a token turns off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One type's single emails.
    Type(NotificationType),
    /// The daily digest (its email goes back to off).
    Digest,
}

/// The target byte of the digest (types use their index in `NotificationType::ALL`).
const DIGEST: u8 = 0xff;

impl Target {
    /// How the confirmation page names it.
    pub fn label(self) -> &'static str {
        match self {
            Target::Type(t) => t.label(),
            Target::Digest => "Daily digest",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Target::Type(t) => NotificationType::ALL
                .iter()
                .position(|x| *x == t)
                .expect("every type is in ALL") as u8,
            Target::Digest => DIGEST,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        if b == DIGEST {
            return Some(Target::Digest);
        }
        NotificationType::ALL
            .get(b as usize)
            .map(|t| Target::Type(*t))
    }
}

/// A token that turns `t`'s single emails off.
pub fn token(instance_key: &[u8; 32], user: Uuid, t: NotificationType) -> String {
    token_for(instance_key, user, Target::Type(t))
}

pub fn token_for(instance_key: &[u8; 32], user: Uuid, target: Target) -> String {
    let mut msg = user.as_bytes().to_vec();
    msg.push(target.byte());
    let tag = mac(instance_key, &msg).finalize().into_bytes();
    msg.extend_from_slice(&tag);
    B64.encode(msg)
}

/// The user and target a genuine token names.
pub fn verify(instance_key: &[u8; 32], token: &str) -> Option<(Uuid, Target)> {
    let raw = B64.decode(token.trim()).ok()?;
    if raw.len() != 49 {
        return None;
    }
    let (msg, tag) = raw.split_at(17);
    mac(instance_key, msg).verify_slice(tag).ok()?;
    let user = Uuid::from_slice(&msg[..16]).ok()?;
    Some((user, Target::from_byte(msg[16])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_unchanged_and_with_their_key() {
        let k = [7u8; 32];
        let u = Uuid::now_v7();
        let t = token(&k, u, NotificationType::Mentioned);
        assert!(
            regex::Regex::new(TOKEN_PATTERN).unwrap().is_match(&t),
            "{t}"
        );
        assert_eq!(
            verify(&k, &t),
            Some((u, Target::Type(NotificationType::Mentioned)))
        );
        let d = token_for(&k, u, Target::Digest);
        assert_eq!(verify(&k, &d), Some((u, Target::Digest)));
        assert_ne!(d, t);
        assert_eq!(verify(&[8u8; 32], &t), None);
        let mut raw = B64.decode(&t).unwrap();
        raw[16] = 0; // another type
        assert_eq!(verify(&k, &B64.encode(&raw)), None);
        assert_eq!(verify(&k, "nope"), None);
    }
}
