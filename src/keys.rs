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

fn load_or_create(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(hexed) = std::fs::read_to_string(path) {
        return Ok(hex::decode(hexed.trim())?);
    }
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, hex::encode(&bytes))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
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
