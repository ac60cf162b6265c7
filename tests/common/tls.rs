//! A local https upstream for tests and the benchmark: a test CA made at run time, and a TLS
//! front on loopback that terminates TLS with a certificate for `127.0.0.1` signed by that CA
//! and passes the bytes on to a plain-HTTP upstream (wiremock, the simulator, the bench's axum).
//!
//! The CA is trusted only by the processes that are told to: the server through
//! `SSL_CERT_FILE` (rustls-platform-verifier reads the roots through rustls-native-certs, which
//! loads that file instead of the system's store), curl through `--cacert`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A running TLS front; it stops with the process (its thread is detached).
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`, to which a path is added (e.g. `/v1`).
    pub origin: String,
    /// The test CA's certificate (PEM), to trust for this front only.
    pub ca_file: PathBuf,
    /// TLS handshakes completed.
    pub handshakes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    /// Starts a front for `target` (plain HTTP on loopback) on a thread of its own, so that
    /// it serves whatever runtime (or none) the caller has.
    pub fn start(target: SocketAddr) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "msgbatch-mcp test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("leaf params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf certificate");

        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write CA");

        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let origin = format!("https://{}", listener.local_addr().expect("addr"));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let done = handshakes.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("TLS front runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((socket, _)) = listener.accept().await {
                    let _ = socket.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let done = done.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(socket).await else {
                            return;
                        };
                        done.fetch_add(1, Ordering::SeqCst);
                        let Ok(mut plain) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = plain.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        Self {
            origin,
            ca_file,
            handshakes,
            _dir: dir,
        }
    }

    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}
