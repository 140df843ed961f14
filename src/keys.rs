//! Key material. Deployments set `auth.jwt_secret` and `security.encryption_key`; a fresh
//! single-node install needs no set-up, so when they are unset we generate them once into
//! the data directory (mode 0600) and reuse them on every start. Several nodes must share
//! configured keys.

use std::path::Path;

use rand::RngCore;

use crate::config::Settings;

pub struct Keys {
    pub jwt_secret: Vec<u8>,
    pub encryption_key: [u8; 32],
}

/// Writes `bytes` to a new file that only the owner can read, created with mode 0600 (not
/// chmod-ed after the fact, which would leave a window where it is readable).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Refuses a key file that others than its owner can read or write.
fn check_mode(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "key file {} has mode {:o}; it must be readable by its owner only (chmod 600 {})",
                path.display(),
                mode,
                path.display()
            );
        }
    }
    Ok(())
}

fn load_or_create(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        check_mode(path)?;
        let hexed = std::fs::read_to_string(path)?;
        return Ok(hex::decode(hexed.trim())?);
    }
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, hex::encode(&bytes).as_bytes())?;
    tracing::warn!(file = %path.display(), "generated a key; set it in the configuration to run several nodes");
    Ok(bytes)
}

impl Keys {
    pub fn load(s: &Settings) -> anyhow::Result<Self> {
        let dir = &s.database.data_dir;
        let jwt_secret = if s.auth.jwt_secret.is_empty() {
            load_or_create(&dir.join("jwt.key"))?
        } else {
            s.auth.jwt_secret.expose().as_bytes().to_vec()
        };
        let enc = if s.security.encryption_key.is_empty() {
            load_or_create(&dir.join("encryption.key"))?
        } else {
            hex::decode(s.security.encryption_key.expose())?
        };
        let encryption_key: [u8; 32] = enc.try_into().map_err(|_| {
            anyhow::anyhow!("invalid setting `security.encryption_key`: must be 32 bytes")
        })?;
        Ok(Self {
            jwt_secret,
            encryption_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_wide_modes_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        let a = load_or_create(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create(&p).unwrap(), a);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&p).unwrap_err().to_string();
        assert!(err.contains("644") && err.contains("k.key"), "{err}");
    }
}
