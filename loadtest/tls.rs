//! The TLS side of STARTTLS for load runs: rustls with the ring provider and no
//! certificate verification, since load targets are test servers with throwaway
//! certificates.

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// A connector that trusts any server certificate (the server's own outbound one);
/// shared by every session of a run so TLS sessions are resumed across connections.
pub fn insecure_connector() -> anyhow::Result<TlsConnector> {
    hermod::outbound::connector(false).map_err(anyhow::Error::msg)
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
