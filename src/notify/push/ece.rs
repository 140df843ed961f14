//! Web Push message encryption, RFC 8291 (`aes128gcm`, RFC 8188), one record.
//!
//! A fresh P-256 key pair per message; ECDH with the browser's `p256dh` key; HKDF-SHA-256
//! with its `auth` secret gives the input keying material; a random salt derives the
//! content key and nonce; the padded plaintext is one AES-128-GCM record. The body is
//! `salt ‖ rs ‖ idlen ‖ keyid (our public key) ‖ ciphertext`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;

/// The record size we declare (one record always fits: payloads are capped below it).
pub const RECORD_SIZE: u32 = 4096;
/// The largest plaintext one record carries (rs − 16-byte tag − 1 delimiter byte).
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 17;

/// A random valid P-256 secret key.
pub fn random_secret() -> SecretKey {
    loop {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        if let Ok(k) = SecretKey::from_slice(&b) {
            return k;
        }
    }
}

/// The uncompressed SEC1 encoding (65 bytes) of a public key.
pub fn uncompressed(p: &PublicKey) -> Vec<u8> {
    p.to_encoded_point(false).as_bytes().to_vec()
}

/// Encrypts `plaintext` for a subscription (`ua_public`: 65 bytes, `auth`: 16 bytes).
pub fn encrypt(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    encrypt_with(ua_public, auth, plaintext, &random_secret(), salt)
}

/// [`encrypt`] with a given sender key and salt (the RFC 8291 test vector uses fixed ones).
pub fn encrypt_with(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!("push payload over {MAX_PLAINTEXT} bytes"));
    }
    if auth.len() != 16 {
        return Err("the subscription's auth secret is not 16 bytes".into());
    }
    let ua = PublicKey::from_sec1_bytes(ua_public)
        .map_err(|_| "the subscription's p256dh is not a P-256 point".to_string())?;
    let as_public = uncompressed(&as_secret.public_key());
    let ua_bytes = uncompressed(&ua);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());

    // IKM = HKDF(auth, ecdh_secret, "WebPush: info" ‖ 0 ‖ ua_public ‖ as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(&ua_bytes);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), &shared.raw_secret_bytes()[..])
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;

    // CEK and nonce from the salt (RFC 8188).
    let hk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    hk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    hk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;

    // One record: the plaintext and the last-record delimiter 0x02 (no padding).
    let mut record = plaintext.to_vec();
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;
    let ct = cipher
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| "AES-GCM encryption failed".to_string())?;

    let mut out = Vec::with_capacity(16 + 4 + 1 + 65 + ct.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    out.push(as_public.len() as u8);
    out.extend_from_slice(&as_public);
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;

    /// RFC 8291, section 5: the example message, byte for byte.
    #[test]
    fn the_rfc_8291_example() {
        let d = |s: &str| B64.decode(s).unwrap();
        let plaintext = b"When I grow up, I want to be a watermelon";
        let as_private = d("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw");
        let ua_public = d("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
        let auth = d("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = d("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let expected = d("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN");
        let secret = SecretKey::from_slice(&as_private).unwrap();
        let out = encrypt_with(&ua_public, &auth, plaintext, &secret, salt).unwrap();
        assert_eq!(B64.encode(&out), B64.encode(&expected));
    }
}
