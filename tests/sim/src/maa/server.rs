//! Listeners and connection threads: one acceptor thread per listener, one thread per connection
//! (one request each), every socket tracked so that stopping shuts them down and joins every thread.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::{Error, MaaError};
use super::http::{self, ReadError, Request, Response};
use super::routes::State;

/// How long a connection may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are closed unanswered (a runaway client cannot exhaust threads).
const MAX_CONNECTIONS: usize = 64;

/// Answers one request.
pub(super) type Handler = fn(&State, &Request) -> Response;

/// The listeners of one service and their threads; [`Server::stop`] ends them all.
#[derive(Debug)]
pub(super) struct Server {
    shared: Arc<Shared>,
    acceptors: Vec<(SocketAddr, JoinHandle<()>)>,
}

#[derive(Debug)]
struct Shared {
    state: State,
    connections: Mutex<Connections>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Connections {
    sockets: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

/// A listener to serve: bound, with its handler and, for HTTPS, its TLS configuration.
pub(super) struct Listener {
    pub socket: TcpListener,
    pub tls: Option<Arc<ServerConfig>>,
    pub handler: Handler,
}

impl Server {
    pub fn start(state: State, listeners: Vec<Listener>) -> Result<Server, Error> {
        let shared = Arc::new(Shared {
            state,
            connections: Mutex::new(Connections::default()),
            next_id: AtomicU64::new(0),
        });
        let mut server = Server { shared, acceptors: Vec::new() };
        for listener in listeners {
            let address = listener.socket.local_addr()?;
            let shared = Arc::clone(&server.shared);
            // On error `server` is dropped, which stops the acceptors already started.
            let handle = std::thread::Builder::new()
                .name(format!("maa-accept-{}", address.port()))
                .spawn(move || accept_loop(listener, &shared))?;
            server.acceptors.push((address, handle));
        }
        Ok(server)
    }

    pub fn state(&self) -> &State {
        &self.shared.state
    }

    fn stop(&mut self) {
        self.shared.state.stop.store(true, Ordering::SeqCst);
        // Wake each acceptor blocked in accept(); it sees `stop` and returns.
        for (address, _) in &self.acceptors {
            let _ = TcpStream::connect_timeout(address, Duration::from_secs(1));
        }
        for (_, acceptor) in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
        // No acceptor runs any more, so no connection is added after this.
        let threads = {
            let mut connections = lock(&self.shared.connections);
            for socket in connections.sockets.values() {
                let _ = socket.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut connections.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The TLS configuration of the HTTPS listener: the test server certificate (SAN 127.0.0.1 and
/// localhost) and its key. The provider is named rather than left to the process default, which is
/// ambiguous when more than one is compiled in.
pub(super) fn tls_config(certificate_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, Error> {
    let pki = |what, e: rustls_pki_types::pem::Error| Error::Pki { what, reason: e.to_string() };
    let chain = CertificateDer::pem_slice_iter(certificate_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pki("TLS server certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| pki("TLS server key", e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: Listener, shared: &Arc<Shared>) {
    for stream in listener.socket.incoming() {
        if shared.state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors or similar: wait a moment instead of spinning on the error.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        // Tracked (a clone) so that stopping can shut it down; untracked, it is not served.
        let Ok(clone) = stream.try_clone() else { continue };
        {
            let mut connections = lock(&shared.connections);
            if connections.sockets.len() >= MAX_CONNECTIONS {
                continue;
            }
            connections.sockets.insert(id, clone);
        }
        let for_thread = Arc::clone(shared);
        let (tls, handler) = (listener.tls.clone(), listener.handler);
        let spawned = std::thread::Builder::new().name(format!("maa-conn-{id}")).spawn(move || {
            serve(stream, tls, handler, &for_thread.state);
            lock(&for_thread.connections).sockets.remove(&id);
        });
        let mut connections = lock(&shared.connections);
        match spawned {
            Ok(handle) => connections.threads.push(handle),
            Err(_) => {
                connections.sockets.remove(&id);
            }
        }
        // Reap the threads of closed connections, so a long run does not accumulate them.
        let (done, running) =
            std::mem::take(&mut connections.threads).into_iter().partition(|t| t.is_finished());
        connections.threads = running;
        drop(connections);
        for thread in done {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, tls: Option<Arc<ServerConfig>>, handler: Handler, state: &State) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    match tls {
        None => exchange(stream, handler, state),
        Some(config) => {
            let Ok(connection) = rustls::ServerConnection::new(config) else { return };
            let mut stream = rustls::StreamOwned::new(connection, stream);
            exchange(&mut stream, handler, state);
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    }
}

/// One request, one response.
fn exchange<S: Read + Write>(mut stream: S, handler: Handler, state: &State) {
    let response = match http::read_request(&mut stream, state.body_max) {
        Ok(request) => handler(state, &request),
        Err(ReadError::Refused { status, code, message }) => MaaError::new(status, code, message).response(),
        Err(ReadError::Closed | ReadError::Io(_)) => return,
    };
    let _ = http::write_response(&mut stream, &response);
}
