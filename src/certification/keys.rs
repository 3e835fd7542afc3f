//! Institution signing keys: ECDSA P-256 (ES256, the algorithm the Open Badges 3.0 validator
//! accepts besides RS256), sealed at rest with a master key, published as JWKs.
//!
//! A key is identified only by its `kid`, the RFC 7638 thumbprint of its public part, so a
//! rotated-out key is still found (and still verifies old certificates) as long as its public
//! JWK stays published.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the generated master key inside the data folder.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Prefix of a sealed private key; a later format gets `v2:`.
const SEALED_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Why a key could not be loaded, unsealed or read; messages for the operator, in Spanish.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "La clave maestra configurada no es válida: tienen que ser 32 bytes escritos en hexadecimal (64 caracteres) o en base64"
    )]
    BadMasterKey,
    #[error("No se pudo leer ni crear la clave maestra en {path}: {source}")]
    MasterKeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "La clave maestra no descifra la clave de firma {kid}: no es la misma con la que se cifró (¿se cambió o se perdió {MASTER_KEY_FILE}?)"
    )]
    WrongMasterKey { kid: String },
    #[error("La clave de firma cifrada {kid} está dañada")]
    CorruptSealedKey { kid: String },
    #[error("La clave pública no es una JWK P-256 válida: {0}")]
    BadJwk(&'static str),
}

/// The 256-bit key that seals every institution's private key (AES-256-GCM).
///
/// **Back it up.** Without it no institution can sign again: every private key in the
/// database becomes unreadable (certificates already issued still verify, since their public
/// keys are published). When it is not given in the configuration, Aula generates it on first
/// start in `<data folder>/master.key` (permissions 0600); copy that file somewhere safe, or
/// move its value into the configuration.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// The configured key (64 hex characters or base64 of 32 bytes) if there is one; otherwise
    /// the one in `<data_dir>/master.key`, generated there on first start.
    pub fn from_config(configured: Option<&str>, data_dir: &Path) -> Result<MasterKey, KeyError> {
        match configured.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => MasterKey::parse(text),
            None => MasterKey::load_or_create(&data_dir.join(MASTER_KEY_FILE)),
        }
    }

    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// Parses 64 hex characters or base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(MasterKey)
            .ok_or(KeyError::BadMasterKey)
    }

    /// Reads the key file, or creates it (0600) when it does not exist yet. Two processes
    /// starting at once agree on one key: only one `create_new` wins, the other reads it.
    fn load_or_create(path: &Path) -> Result<MasterKey, KeyError> {
        let io_err = |source| KeyError::MasterKeyFile {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return MasterKey::parse(&text),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(key.0)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io_err)?;
                tracing::warn!(
                    path = %path.display(),
                    "se generó la clave maestra que cifra las claves de firma: hacé una copia de seguridad de este archivo"
                );
                Ok(key)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io_err)?;
                MasterKey::parse(&text)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// What binds a sealed key to its kid: moving a sealed blob to another key's row fails.
fn associated_data(kid: &str) -> Vec<u8> {
    format!("aula/institution-signing-key/v1/{kid}").into_bytes()
}

/// An institution's private signing key, in memory only once unsealed.
#[derive(Clone)]
pub struct InstitutionKey {
    signing: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for InstitutionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstitutionKey({})", self.kid())
    }
}

impl InstitutionKey {
    /// A fresh random P-256 key.
    pub fn generate() -> InstitutionKey {
        let mut rng = rand::rng();
        loop {
            // A random 32-byte string is a valid scalar except with probability ~2⁻³²;
            // drawing bytes keeps us off rand_core version pinning.
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            if let Ok(signing) = SigningKey::from_slice(&bytes) {
                return InstitutionKey::from_signing(signing);
            }
        }
    }

    fn from_signing(signing: SigningKey) -> InstitutionKey {
        let public = PublicKey::new(*signing.verifying_key());
        InstitutionKey { signing, public }
    }

    /// The key id: the RFC 7638 thumbprint of the public key (base64url).
    pub fn kid(&self) -> &str {
        self.public.thumbprint()
    }

    /// The public half, to publish.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The private key encrypted with the master key (AES-256-GCM, random nonce, the kid as
    /// associated data), as text to store: `v1:` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, master: &MasterKey) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let secret = self.signing.to_bytes();
        let aad = associated_data(self.kid());
        let ciphertext = master
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_slice(),
                    aad: &aad,
                },
            )
            // AES-GCM encryption only fails for messages beyond 64 GiB.
            .expect("sealing 32 bytes cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(blob))
    }

    /// Decrypts a key sealed by [`InstitutionKey::seal`]. A wrong master key, a blob from
    /// another kid or a damaged blob is an error, never a different key.
    pub fn unseal(master: &MasterKey, kid: &str, sealed: &str) -> Result<InstitutionKey, KeyError> {
        let corrupt = || KeyError::CorruptSealedKey {
            kid: kid.to_string(),
        };
        let blob = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(corrupt)?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = associated_data(kid);
        let secret = master
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::WrongMasterKey {
                kid: kid.to_string(),
            })?;
        let signing = SigningKey::from_slice(&secret).map_err(|_| corrupt())?;
        let key = InstitutionKey::from_signing(signing);
        if key.kid() != kid {
            return Err(corrupt());
        }
        Ok(key)
    }

    /// An ES256 signature (JWS form: r ‖ s, 64 bytes) of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.signing.sign(message);
        signature.to_bytes().into()
    }
}

/// A P-256 public key with its thumbprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    thumbprint: String,
}

impl PublicKey {
    fn new(key: VerifyingKey) -> PublicKey {
        let (x, y) = coordinates(&key);
        // RFC 7638 §3.2: the required members of an EC key, in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        PublicKey { key, thumbprint }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the key's id.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public JWK, with `kid` as given (the key's URL when it goes in a JWT header).
    pub fn jwk(&self, kid: &str) -> Jwk {
        let (x, y) = coordinates(&self.key);
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid: Some(kid.to_string()),
            alg: Some("ES256".into()),
            use_: Some("sig".into()),
        }
    }

    /// Reads a public JWK; refuses anything but a P-256 key, and any private member.
    pub fn from_jwk(jwk: &Jwk) -> Result<PublicKey, KeyError> {
        if jwk.kty != "EC" || jwk.crv != "P-256" {
            return Err(KeyError::BadJwk("no es una clave EC P-256"));
        }
        if jwk.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(KeyError::BadJwk("el algoritmo no es ES256"));
        }
        let coordinate = |c: &str| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or(KeyError::BadJwk("coordenada mal codificada"))
        };
        let mut sec1 = vec![0x04];
        sec1.extend(coordinate(&jwk.x)?);
        sec1.extend(coordinate(&jwk.y)?);
        PublicKey::from_sec1_bytes(&sec1)
    }

    /// The uncompressed SEC1 point (65 bytes), a compact form to store.
    pub fn to_sec1_bytes(&self) -> Vec<u8> {
        self.key.to_encoded_point(false).as_bytes().to_vec()
    }

    /// Reads a SEC1 point (what [`PublicKey::to_sec1_bytes`] wrote).
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(PublicKey::new)
            .map_err(|_| KeyError::BadJwk("el punto no está en la curva P-256"))
    }

    /// Whether `signature` (r ‖ s, 64 bytes) is this key's ES256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .map(|s| self.key.verify(message, &s).is_ok())
            .unwrap_or(false)
    }
}

fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    // An uncompressed point of a valid key always has both coordinates.
    let x = point
        .x()
        .map(|x| URL_SAFE_NO_PAD.encode(x))
        .unwrap_or_default();
    let y = point
        .y()
        .map(|y| URL_SAFE_NO_PAD.encode(y))
        .unwrap_or_default();
    (x, y)
}

/// The URL that dereferences to one key's JWK, used as the JWT header `kid` (Open Badges 3.0
/// §8.2: "a URI that can be dereferenced to an object of type JWK").
pub fn key_url(base_url: &str, thumbprint: &str) -> String {
    format!("{}/claves/{thumbprint}", base_url.trim_end_matches('/'))
}

/// A public JSON Web Key (RFC 7517): never has a `d`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set document (`/.well-known/jwks.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Trusted public keys to verify with, looked up by the JWT header `kid`.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, PublicKey)>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds a key, also known by `kid` (its URL) besides its thumbprint.
    pub fn insert(&mut self, kid: Option<&str>, key: PublicKey) {
        self.keys.push((kid.map(str::to_string), key));
    }

    /// The P-256 keys of a JWKS document; other kinds of keys in it are skipped.
    pub fn from_jwks(jwks: &Jwks) -> KeySet {
        let mut set = KeySet::new();
        for jwk in &jwks.keys {
            if let Ok(key) = PublicKey::from_jwk(jwk) {
                set.insert(jwk.kid.as_deref(), key);
            }
        }
        set
    }

    /// The key named `kid`: by the exact kid it was published with, or by thumbprint (bare or
    /// as the last segment of a key URL). The thumbprint is computed from the key itself, so
    /// matching on it cannot pick a wrong key.
    pub fn find(&self, kid: &str) -> Option<&PublicKey> {
        let exact = self
            .keys
            .iter()
            .find(|(k, _)| k.as_deref() == Some(kid))
            .map(|(_, key)| key);
        exact.or_else(|| {
            let tail = kid.rsplit(['/', '#', ':']).next().unwrap_or(kid);
            self.keys
                .iter()
                .find(|(_, key)| key.thumbprint() == tail)
                .map(|(_, key)| key)
        })
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_follows_rfc_7638() {
        // RFC 7638 gives an RSA example only; this P-256 vector is RFC 7517 appendix A.1's
        // first key, whose thumbprint other implementations (jose, jwcrypto) agree on.
        let jwk = Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4".into(),
            y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM".into(),
            kid: Some("1".into()),
            alg: None,
            use_: None,
        };
        let key = PublicKey::from_jwk(&jwk).unwrap();
        let canonical = r#"{"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(key.thumbprint(), expected);
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn sealed_key_unseals_with_its_master_key_and_signs_the_same() {
        let master = MasterKey::generate();
        let key = InstitutionKey::generate();
        let sealed = key.seal(&master);
        assert!(sealed.starts_with("v1:"));
        let secret_hex = hex::encode(key.signing.to_bytes());
        assert!(!sealed.contains(&secret_hex), "never in plain text");
        let back = InstitutionKey::unseal(&master, key.kid(), &sealed).unwrap();
        assert_eq!(back.kid(), key.kid());
        let sig = back.sign(b"hola");
        assert!(key.public_key().verify(b"hola", &sig));
        assert!(!key.public_key().verify(b"hola!", &sig));
        // Sealing twice uses a new nonce.
        assert_ne!(key.seal(&master), sealed);
    }

    #[test]
    fn wrong_master_key_or_foreign_kid_is_a_clear_error() {
        let key = InstitutionKey::generate();
        let sealed = key.seal(&MasterKey::generate());
        let err = InstitutionKey::unseal(&MasterKey::generate(), key.kid(), &sealed).unwrap_err();
        assert!(matches!(err, KeyError::WrongMasterKey { .. }));
        assert!(err.to_string().contains("no es la misma"), "{err}");

        let master = MasterKey::generate();
        let sealed = key.seal(&master);
        let other = InstitutionKey::generate();
        assert!(matches!(
            InstitutionKey::unseal(&master, other.kid(), &sealed),
            Err(KeyError::WrongMasterKey { .. })
        ));
        assert!(matches!(
            InstitutionKey::unseal(&master, key.kid(), "v1:AAAA"),
            Err(KeyError::CorruptSealedKey { .. })
        ));
    }

    #[test]
    fn master_key_is_generated_once_with_private_permissions_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("datos");
        let first = MasterKey::from_config(None, &data).unwrap();
        let path = data.join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = MasterKey::from_config(None, &data).unwrap();
        assert_eq!(first.0, second.0);
        // A key sealed before the restart unseals after it.
        let key = InstitutionKey::generate();
        let sealed = key.seal(&first);
        assert!(InstitutionKey::unseal(&second, key.kid(), &sealed).is_ok());
    }

    #[test]
    fn configured_master_key_wins_over_the_file_and_accepts_hex_or_base64() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = [7u8; 32];
        let from_hex = MasterKey::from_config(Some(&hex::encode(bytes)), dir.path()).unwrap();
        let from_b64 = MasterKey::from_config(Some(&STANDARD.encode(bytes)), dir.path()).unwrap();
        assert_eq!(from_hex.0, bytes);
        assert_eq!(from_b64.0, bytes);
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
        assert!(matches!(
            MasterKey::from_config(Some("corta"), dir.path()),
            Err(KeyError::BadMasterKey)
        ));
        assert_eq!(format!("{from_hex:?}"), "MasterKey(…)");
    }

    #[test]
    fn jwk_export_round_trips_and_has_no_private_part() {
        let key = InstitutionKey::generate();
        let url = key_url("https://aula.example/", key.kid());
        assert_eq!(url, format!("https://aula.example/claves/{}", key.kid()));
        let jwk = key.public_key().jwk(&url);
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(json["kty"], "EC");
        assert_eq!(json["crv"], "P-256");
        assert_eq!(json["alg"], "ES256");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["kid"], url.as_str());
        assert!(json.get("d").is_none());
        let back = PublicKey::from_jwk(&serde_json::from_value(json).unwrap()).unwrap();
        assert_eq!(&back, key.public_key());
        assert_eq!(
            PublicKey::from_sec1_bytes(&key.public_key().to_sec1_bytes()).unwrap(),
            back
        );
    }

    #[test]
    fn an_old_key_in_the_set_still_verifies_after_rotation() {
        let old = InstitutionKey::generate();
        let new = InstitutionKey::generate();
        let jwks = Jwks {
            keys: vec![
                new.public_key()
                    .jwk(&key_url("https://a.example", new.kid())),
                old.public_key()
                    .jwk(&key_url("https://a.example", old.kid())),
            ],
        };
        let set = KeySet::from_jwks(
            &serde_json::from_str(&serde_json::to_string(&jwks).unwrap()).unwrap(),
        );
        let sig = old.sign(b"certificado de 2026");
        let found = set.find(&key_url("https://a.example", old.kid())).unwrap();
        assert!(found.verify(b"certificado de 2026", &sig));
        assert_eq!(set.find(old.kid()), Some(old.public_key()));
        assert_eq!(set.find(new.kid()), Some(new.public_key()));
        assert!(set.find("https://a.example/claves/otra").is_none());
    }
}
