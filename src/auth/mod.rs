//! Accounts and sessions: registration with email verification, login with throttling,
//! rotating refresh tokens with reuse detection (RFC 9700), logout, password reset, profile.
//!
//! - [`password`]: argon2id hashing and the password policy.
//! - [`tokens`]: access JWTs and opaque tokens.
//! - [`sessions`]: refresh-token families.
//! - [`throttle`]: failure counters (memory or Redis).
//! - [`extract`]: the `AuthUser` and `RequestMeta` extractors.
//! - [`signup`]: new accounts, email verification, sign-up through an invitation.
//! - [`credentials`]: sign-in, refresh, sign-out, password reset and change.
//! - [`accounts`]: emailed tokens, sessions ending, signing in, throttles.
//! - [`tickets`]: single-use WebSocket tickets.
//! - [`views`]: request and response shapes.
//! - [`handlers`]: `/api/auth/*`, `/api/users/profile`, `/api/setup`.

pub mod accounts;
pub mod credentials;
pub mod extract;
pub mod handlers;
pub mod password;
pub mod sessions;
pub mod signup;
pub mod throttle;
pub mod tickets;
pub mod tokens;
pub mod views;

/// Normalises an email for storage and lookup; `None` if it is not a plausible address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.')
    {
        return None;
    }
    email.parse::<lettre::Address>().ok()?;
    Some(email)
}

#[cfg(test)]
mod tests {
    #[test]
    fn emails_are_normalised() {
        use super::normalize_email as n;
        assert_eq!(
            n("  Alice@Example.COM ").as_deref(),
            Some("alice@example.com")
        );
        assert!(n("no-at-sign").is_none());
        assert!(n("a@localhost").is_none());
        assert!(n("a b@example.com").is_none());
        assert!(n("@example.com").is_none());
    }
}
