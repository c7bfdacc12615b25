//! Which certificate authorities the JWKS fetch trusts. By default Mozilla's roots, compiled into the binary
//! (webpki-roots): reading the machine's store instead means opening and parsing every file under
//! `/etc/ssl/certs` at each cold start, milliseconds that hello world does not spend, and every public identity
//! provider chains to one of those roots anyway. An identity provider behind a private CA names its bundle in
//! `JWKS_CA_BUNDLE`; then only that bundle is trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why the JWKS client's trust roots could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: not a readable PEM certificate bundle")]
    Bundle {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path}: no certificate in it can be a trust anchor ({ignored} skipped)")]
    NoAnchor { path: PathBuf, ignored: usize },
    #[error("TLS settings refused")]
    Tls(#[source] rustls::Error),
}

/// The rustls settings of the JWKS client: TLS 1.2 and 1.3 with the AWS-LC provider, no client certificate,
/// and the roots above. `bundle`, when given, is read here (at cold start), so a wrong path fails the start
/// with the variable's name instead of every later fetch.
pub fn client_config(bundle: Option<&Path>) -> Result<rustls::ClientConfig, TrustError> {
    let roots = match bundle {
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
        Some(path) => bundle_roots(path)?,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TrustError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // reqwest is built without HTTP/2: announce only what it speaks.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn bundle_roots(path: &Path) -> Result<rustls::RootCertStore, TrustError> {
    let bundle_error = |source| TrustError::Bundle { path: path.to_owned(), source };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(bundle_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bundle_error)?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TrustError::NoAnchor { path: path.to_owned(), ignored });
    }
    if ignored > 0 {
        tracing::warn!(path = %path.display(), added, ignored, "JWKS CA bundle: some certificates were skipped");
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_roots_are_mozillas_and_need_no_file() {
        let config = client_config(None).expect("compiled-in roots");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }

    #[test]
    fn a_bundle_that_is_missing_empty_or_not_a_certificate_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).unwrap_err();
        assert!(matches!(err, TrustError::Bundle { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no PEM here\n").unwrap();
        let err = client_config(Some(&empty)).unwrap_err();
        assert!(matches!(err, TrustError::NoAnchor { ignored: 0, .. }), "{err:?}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let err = client_config(Some(&garbage)).unwrap_err();
        assert!(matches!(err, TrustError::NoAnchor { ignored: 1, .. }), "{err:?}");
    }
}
