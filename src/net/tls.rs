//! TLS configuration: the configured certificate, or a self-signed ECDSA one made on first
//! start and kept in the data directory so that clients can pin it across restarts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file concerned.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The self-signed certificate could not be generated.
    #[error("self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Builds the acceptor from `cert`/`key` when given, else from the self-signed pair in
/// `data_dir/tls/`, creating it for `hostname` the first time.
pub fn load_or_create_tls(
    cert_key: Option<(&Path, &Path)>,
    data_dir: &Path,
    hostname: &str,
) -> Result<TlsAcceptor, TlsError> {
    let (cert, key) = match cert_key {
        Some((cert, key)) => (cert.to_path_buf(), key.to_path_buf()),
        None => ensure_self_signed(data_dir, hostname)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| pem_error(&cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&cert, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: cert,
            reason: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| pem_error(&key, e))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// An acceptor with a fresh self-signed certificate kept in memory only (tools such as
/// the sink, which offer STARTTLS without a data directory).
pub fn ephemeral_tls(hostname: &str) -> Result<TlsAcceptor, TlsError> {
    let generated = rcgen::generate_simple_self_signed(vec![hostname.to_string()])?;
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).map_err(|e| {
        TlsError::Pem {
            path: PathBuf::from("<memory>"),
            reason: e.to_string(),
        }
    })?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn pem_error(path: &Path, e: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The self-signed pair's paths, generating it when missing. The key file is written
/// owner-only before any secret goes into it.
fn ensure_self_signed(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let mut params = rcgen::CertificateParams::new(names)?;
    // Clients show the subject when asking whether to trust the certificate.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    // rcgen's default key type is ECDSA P-256: small and fast to handshake.
    let signing_key = rcgen::KeyPair::generate()?;
    let generated = params.self_signed(&signing_key)?;
    write_private(&key, signing_key.serialize_pem().as_bytes()).map_err(io_err(&key))?;
    fs::write(&cert, generated.pem()).map_err(io_err(&cert))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_pair_is_made_once_and_reused() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        load_or_create_tls(None, dir.path(), "mail.example.test").unwrap();
        let first = fs::read(dir.path().join("tls/cert.pem")).unwrap();
        load_or_create_tls(None, dir.path(), "mail.example.test").unwrap();
        let second = fs::read(dir.path().join("tls/cert.pem")).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn missing_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("nope.pem");
        let Err(err) = load_or_create_tls(Some((&cert, &cert)), dir.path(), "x") else {
            panic!("missing files accepted");
        };
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }
}
