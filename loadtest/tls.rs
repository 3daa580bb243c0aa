//! The TLS side of STARTTLS for load runs: rustls with the ring provider and no
//! certificate verification, since load targets are test servers with throwaway
//! certificates.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

/// Accepts any certificate chain but still verifies the handshake signatures, so the
/// server must hold the key of the certificate it shows.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A connector that trusts any server certificate; build one per run and share it so
/// sessions are resumed across connections, as a real client pool would.
pub fn insecure_connector() -> Result<TlsConnector, rustls::Error> {
    // The provider is named explicitly rather than taken from the process default, so
    // no global install is needed and the choice cannot depend on feature unification.
    let provider = Arc::new(crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name sent in SNI for `target` (`HOST:PORT`, `[V6]:PORT`); IP addresses are
/// allowed and simply produce no SNI extension (RFC 6066 §3).
pub fn server_name(target: &str) -> Result<ServerName<'static>, String> {
    let host = match target.rsplit_once(':') {
        Some((host, _port)) => host,
        None => target,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("bad host {host:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_targets() {
        assert_eq!(
            server_name("mail.example.test:25").unwrap(),
            ServerName::try_from("mail.example.test").unwrap()
        );
        assert!(matches!(
            server_name("127.0.0.1:587").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:587").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad host!:25").is_err());
    }

    #[test]
    fn connector_builds() {
        assert!(insecure_connector().is_ok());
    }
}
