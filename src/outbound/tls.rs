//! The client side of STARTTLS: rustls with ring, verifying certificates or not.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

/// Accepts any certificate, but still checks that the server holds its key: the
/// handshake signatures are verified, so the session keys are not forgeable by a
/// passive listener (RFC 7435 opportunistic security).
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

fn build(verify: bool) -> Result<TlsConnector, rustls::Error> {
    // The provider is named here rather than taken from the process default, so the
    // client works whether or not `main` installed one.
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if verify {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The shared client connector: `verify` checks certificates against webpki roots,
/// otherwise any certificate is accepted (handshake signatures are still checked). One per
/// mode, so TLS sessions are resumed across connections. Also used by `hermod-load`.
pub fn connector(verify: bool) -> Result<TlsConnector, String> {
    static VERIFYING: OnceLock<Result<TlsConnector, String>> = OnceLock::new();
    static OPPORTUNISTIC: OnceLock<Result<TlsConnector, String>> = OnceLock::new();
    let cell = if verify { &VERIFYING } else { &OPPORTUNISTIC };
    cell.get_or_init(|| build(verify).map_err(|e| e.to_string()))
        .clone()
}
