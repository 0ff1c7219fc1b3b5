//! [`ReloadingCert`]: the certificate a listener presents (or a dialer offers), reread from
//! its files when they change. etcd reads the files at every handshake; this checks their
//! metadata at every handshake and rereads them only when it changed, so operators can
//! rotate certificates in place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use crate::files;
use crate::options::TlsError;

/// What identifies one version of a file: modification time, size and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino: m.ino(),
    })
}

#[derive(Debug)]
struct Loaded {
    stamps: (Option<FileStamp>, Option<FileStamp>),
    key: Arc<CertifiedKey>,
    /// The stamps of a replacement that failed to load (logged once).
    failed: Option<(Option<FileStamp>, Option<FileStamp>)>,
}

/// A certificate and key pair, reloaded from its files when they change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    state: Mutex<Loaded>,
}

impl ReloadingCert {
    /// Loads the pair, refusing a missing file, a file without PEM data, or a key that does
    /// not match the certificate.
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let stamps = (stamp(cert_file), stamp(key_file));
        let key = load_pair(cert_file, key_file, &provider)?;
        Ok(Self {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            provider,
            state: Mutex::new(Loaded {
                stamps,
                key,
                failed: None,
            }),
        })
    }

    /// The current pair: reread first if either file changed since it was loaded. A
    /// replacement that does not load is logged and the previous pair kept.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let stamps = (stamp(&self.cert_file), stamp(&self.key_file));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if stamps != state.stamps && state.failed != Some(stamps) {
            match load_pair(&self.cert_file, &self.key_file, &self.provider) {
                Ok(key) => {
                    tracing::info!(cert_file = %self.cert_file.display(), "reloaded certificate");
                    state.key = key;
                    state.stamps = stamps;
                    state.failed = None;
                }
                Err(e) => {
                    tracing::warn!(
                        cert_file = %self.cert_file.display(),
                        key_file = %self.key_file.display(),
                        error = %e,
                        "failed to reload certificate; keeping the previous one"
                    );
                    state.failed = Some(stamps);
                }
            }
        }
        state.key.clone()
    }
}

/// Reads and checks a certificate chain and its private key.
pub fn load_pair(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = files::certs(cert_file, "certificate")?;
    let key = files::key(key_file)?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Content(format!("tls: failed to parse private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(TlsError::Content(format!(
                "tls: private key does not match public key (cert {}, key {})",
                cert_file.display(),
                key_file.display()
            )))
        }
    }
    Ok(Arc::new(certified))
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl rustls::client::ResolvesClientCert for ReloadingCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
