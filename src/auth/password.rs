//! Password hashing and policy.
//!
//! argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). Hashing is
//! CPU-bound (~20–40 ms), so callers run it on the blocking pool. Policy follows NIST
//! SP 800-63B: 8–128 characters, no composition rules, and no password from a list of the
//! most common ones.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A hash of a random password, verified against when an account does not exist so that
/// "unknown email" takes as long as "wrong password".
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&uuid::Uuid::new_v4().to_string()).expect("hash"));

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Constant work whether or not `stored` is present.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let target = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(target)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false);
    ok && stored.is_some()
}

/// Why a password is refused, as a sentence for the user; `None` when it is acceptable.
pub fn policy_problem(password: &str, email: &str) -> Option<String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Some(format!("must be at least {MIN_LEN} characters"));
    }
    if len > MAX_LEN {
        return Some(format!("must be at most {MAX_LEN} characters"));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Some("is one of the most commonly used passwords; choose another".into());
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if lower == email.to_lowercase() || (local.len() >= 4 && lower == local) {
        return Some("must not be your email address".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong horse battery", Some(&h)));
        assert!(!verify("correct horse battery", None));
    }

    #[test]
    fn policy() {
        assert!(policy_problem("short", "a@b.c").is_some());
        assert!(policy_problem(&"x".repeat(129), "a@b.c").is_some());
        assert!(policy_problem("password1", "a@b.c").is_some());
        assert!(policy_problem("12345678", "a@b.c").is_some());
        assert!(policy_problem("alice@example.com", "alice@example.com").is_some());
        assert!(policy_problem("tidy-otter-lamp-42", "a@b.c").is_none());
        // Length counts characters, not bytes.
        assert!(policy_problem("ééééééé", "a@b.c").is_some());
        assert!(COMMON.len() > 500);
    }
}
