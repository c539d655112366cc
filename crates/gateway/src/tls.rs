//! TLS on the API listener (rustls, its aws-lc-rs provider): the certificate and key files
//! (PEM) are re-read when they change, so a rotated certificate is used for new connections
//! without a restart; with a client CA file, clients must present a certificate it issued
//! (mTLS). A bad new pair is logged and the previous one kept.

use crate::settings::TlsSettings;
use anyhow::Context;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

struct Files {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

pub struct Tls {
    files: Files,
    /// The acceptor in use and the modification times of the files it was made from.
    current: RwLock<(TlsAcceptor, Vec<Option<SystemTime>>)>,
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl Tls {
    /// `None` when TLS is not configured.
    pub fn load(s: &TlsSettings) -> anyhow::Result<Option<Arc<Self>>> {
        let (Some(cert), Some(key)) = (&s.cert_file, &s.key_file) else {
            return Ok(None);
        };
        let files = Files {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: s.client_ca_file.clone(),
        };
        let (config, stamps) = files.read()?;
        Ok(Some(Arc::new(Self {
            files,
            current: RwLock::new((TlsAcceptor::from(Arc::new(config)), stamps)),
        })))
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// Re-reads the files when their modification times change, until told to stop.
    pub async fn watch(self: Arc<Self>, every: std::time::Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let known = self.current.read().unwrap_or_else(|p| p.into_inner()).1.clone();
            if self.files.stamps() == known {
                continue;
            }
            match self.files.read() {
                Ok((config, stamps)) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                        (TlsAcceptor::from(Arc::new(config)), stamps);
                    info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    // Keep serving with the previous pair; a half-written rotation completes later.
                    warn!(
                        error = format!("{e:#}"),
                        "TLS files changed but cannot be used; keeping the previous certificate"
                    );
                }
            }
        }
    }
}

impl Files {
    fn stamps(&self) -> Vec<Option<SystemTime>> {
        let mut v = vec![modified(&self.cert), modified(&self.key)];
        v.extend(self.client_ca.as_deref().map(modified));
        v
    }

    fn read(&self) -> anyhow::Result<(ServerConfig, Vec<Option<SystemTime>>)> {
        let stamps = self.stamps();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .and_then(Iterator::collect)
            .with_context(|| format!("cannot read the certificates in {}", self.cert.display()))?;
        anyhow::ensure!(!certs.is_empty(), "no certificate in {}", self.cert.display());
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("cannot read the private key in {}", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS versions")?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca)
                    .with_context(|| format!("cannot read the client CAs in {}", ca.display()))?
                {
                    roots
                        .add(c.with_context(|| format!("bad certificate in {}", ca.display()))?)
                        .with_context(|| format!("bad CA certificate in {}", ca.display()))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .context("cannot build the client certificate verifier")?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .context("the certificate and key do not make a valid pair")?;
        // HTTP/2 first (SBI peers such as a PCF speak only that), HTTP/1.1 for the rest.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok((config, stamps))
    }
}
