//! The paravisor's vTPM. On Azure the paravisor *is* the vTPM; here it is a front end to a real swtpm:
//! a proxy that speaks swtpm's TCP protocol on a command port P and a control port P+1 (what the
//! tpm2-tss TCTI `swtpm:host=127.0.0.1,port=P` connects to), serves the paravisor's NV indices itself
//! ([`HCL_REPORT_INDEX`], [`USER_DATA_INDEX`]; see [`nv`]) and forwards everything else to swtpm byte
//! for byte, so that the client under test knows it is simulated only by its TCTI string.
//!
//! * Commands: each client connection gets a thread that reads whole commands (bounded by swtpm's
//!   4096-byte buffer) and runs them one at a time under one lock, each forwarded over a fresh
//!   connection to swtpm (as tpm2-tss's own swtpm TCTI does), so several clients may be connected and
//!   swtpm's single client slot is held only while a command runs.
//! * Control: each control connection is relayed to swtpm's control port as it is (TPM_INIT,
//!   locality, shutdown… whatever the TCTI sends). swtpm serves one control connection at a time, and
//!   so does the relay: tpm2-tss opens one per control command and closes it at once, but a client
//!   that keeps one open holds the port (as it would on swtpm itself).
//! * [`provision`] puts Azure's AK and AK certificate into swtpm (through the proxy or directly).
//!
//! Dropping the [`Paravisor`] closes the listeners and every open connection and joins all threads.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

mod nv;
mod provision;
mod wire;

pub use nv::{
    HCL_REPORT_ATTRIBUTES, HCL_REPORT_INDEX, HclReportProvider, NV_BUFFER_MAX, NvPublic,
    USER_DATA_ATTRIBUTES, USER_DATA_INDEX, USER_DATA_LEN, tpma_nv,
};
pub use provision::{
    AK_ATTRIBUTES, AK_CERT_INDEX, AK_CERT_MAX, AK_HANDLE, AkPublic, ProvisionError, provision,
};

use nv::NvState;
use wire::{HEADER_LEN, Header, MAX_COMMAND, MAX_RESPONSE, error_response, rc};

/// How long the proxy waits for swtpm to answer one command: creating an RSA primary key in libtpms
/// can take seconds, a hung swtpm must not hang the proxy (and its Drop) for ever.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts at binding an adjacent pair of free ports before giving up.
const BIND_ATTEMPTS: usize = 50;

/// A running paravisor vTPM front end; see the module documentation.
#[derive(Debug)]
pub struct Paravisor {
    port: u16,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

/// What the proxy's threads share.
struct Shared {
    stop: AtomicBool,
    swtpm_command: SocketAddr,
    swtpm_control: SocketAddr,
    /// The simulated NV indices; holding this lock is also the turn to talk to swtpm, so commands run
    /// one at a time as on one TPM.
    tpm: Mutex<NvState>,
    connections: Mutex<Connections>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("swtpm_command", &self.swtpm_command)
            .field("swtpm_control", &self.swtpm_control)
            .finish_non_exhaustive()
    }
}

/// Open sockets (to shut them down on drop, which wakes the threads blocked on them) and the threads
/// serving them.
#[derive(Default)]
struct Connections {
    sockets: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Paravisor {
    /// Starts the proxy in front of the swtpm listening on `swtpm_command` (its `--server`) and
    /// `swtpm_control` (its `--ctrl`), on 127.0.0.1 ports P and P+1. `hcl_report` makes the HCL report
    /// for the current report user data (all zeros until the guest writes some); it is called on the
    /// first access to [`HCL_REPORT_INDEX`] and again after each write to [`USER_DATA_INDEX`], never
    /// per chunk.
    pub fn start(
        swtpm_command: SocketAddr,
        swtpm_control: SocketAddr,
        hcl_report: impl Fn(&[u8; USER_DATA_LEN]) -> Vec<u8> + Send + 'static,
    ) -> io::Result<Paravisor> {
        let (command, control) = bind_adjacent_pair()?;
        let port = command.local_addr()?.port();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            swtpm_command,
            swtpm_control,
            tpm: Mutex::new(NvState::new(Box::new(hcl_report))),
            connections: Mutex::new(Connections::default()),
            next_id: AtomicU64::new(0),
        });
        let mut acceptors = Vec::with_capacity(2);
        for (listener, serve) in [(command, serve_commands as Serve), (control, relay_control as Serve)] {
            let for_thread = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("paravisor-accept-{port}"))
                .spawn(move || accept_loop(&listener, &for_thread, serve));
            match spawned {
                Ok(handle) => acceptors.push(handle),
                Err(e) => {
                    // Stop what already runs before reporting.
                    drop(Paravisor { port, shared, acceptors });
                    return Err(io::Error::new(e.kind(), format!("starting the paravisor proxy: {e}")));
                }
            }
        }
        Ok(Paravisor { port, shared, acceptors })
    }

    /// The command port P (the control port is P+1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCTI string clients use: `swtpm:host=127.0.0.1,port=P`.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Paravisor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptors blocked in accept(); they see `stop` and return.
        for port in [self.port, self.port.wrapping_add(1)] {
            let _ =
                TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(1));
        }
        for acceptor in self.acceptors.drain(..) {
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

/// Serves one accepted connection.
type Serve = fn(TcpStream, &Arc<Shared>, u64);

/// Two listeners on 127.0.0.1 ports P and P+1, as the swtpm TCTI requires: retried on other ports when
/// P+1 is taken.
fn bind_adjacent_pair() -> io::Result<(TcpListener, TcpListener)> {
    let mut last_error = None;
    for _ in 0..BIND_ATTEMPTS {
        let first = TcpListener::bind("127.0.0.1:0")?;
        let Some(next) = first.local_addr()?.port().checked_add(1) else { continue };
        match TcpListener::bind(("127.0.0.1", next)) {
            Ok(second) => return Ok((first, second)),
            Err(e) => last_error = Some(e),
        }
    }
    let reason = last_error.map_or_else(|| "no port below 65535".to_owned(), |e| e.to_string());
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "no two adjacent free loopback ports for the paravisor proxy in {BIND_ATTEMPTS} attempts ({reason})"
        ),
    ))
}

/// Accepts connections until the proxy stops, each served on its own thread by `serve`.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, serve: Serve) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors or similar: wait a moment instead of spinning on the error.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        if !register(shared, id, &stream) {
            continue;
        }
        let thread_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new().name(format!("paravisor-conn-{id}")).spawn(move || {
            serve(stream, &thread_shared, id);
            lock(&thread_shared.connections).sockets.remove(&id);
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

/// Records a socket (a clone of it) to shut down on drop; false when it cannot be cloned (then it is
/// not served: an untracked socket could keep a thread alive past the drop).
fn register(shared: &Shared, id: u64, stream: &TcpStream) -> bool {
    let Ok(clone) = stream.try_clone() else { return false };
    lock(&shared.connections).sockets.insert(id, clone);
    true
}

/// The lock, also after a thread panicked while holding it (the state stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The command channel of one client: whole commands in, one response each out, until the client
/// closes or sends a header that loses the framing.
fn serve_commands(mut client: TcpStream, shared: &Arc<Shared>, _id: u64) {
    loop {
        let response = match read_command(&mut client) {
            Ok(Incoming::Command(command)) => execute(shared, &command),
            Ok(Incoming::Unframed(code)) => {
                // The size field cannot be trusted, so nothing after it can be read as a command.
                let _ = client.write_all(&error_response(code));
                return;
            }
            Ok(Incoming::Closed) | Err(_) => return,
        };
        if client.write_all(&response).is_err() {
            return;
        }
    }
}

/// What a client sent next.
enum Incoming {
    Command(Vec<u8>),
    /// A header whose size is impossible: answered with this response code, then the connection ends.
    Unframed(u32),
    Closed,
}

/// Reads one command: the header, then exactly the rest its size announces (bounded by
/// [`MAX_COMMAND`]).
fn read_command(client: &mut TcpStream) -> io::Result<Incoming> {
    let mut header = [0u8; HEADER_LEN];
    match client.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Incoming::Closed),
        Err(e) => return Err(e),
    }
    let size = usize::try_from(Header::parse(&header).size).unwrap_or(usize::MAX);
    if !(HEADER_LEN..=MAX_COMMAND).contains(&size) {
        return Ok(Incoming::Unframed(rc::COMMAND_SIZE));
    }
    let mut command = vec![0u8; size];
    let (head, body) = command.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header);
    client.read_exact(body)?;
    Ok(Incoming::Command(command))
}

/// Runs one command: on a simulated index here, anything else on swtpm (a listing of NV handles with
/// the simulated indices merged in).
fn execute(shared: &Shared, command: &[u8]) -> Vec<u8> {
    let mut nv = lock(&shared.tpm);
    let tag = command.get(..2).map(|t| u16::from_be_bytes([t[0], t[1]]));
    if tag != Some(wire::TPM_ST_NO_SESSIONS) && tag != Some(wire::TPM_ST_SESSIONS) {
        return error_response(rc::BAD_TAG);
    }
    if let Some(response) = nv.handle(command) {
        return response;
    }
    let listing = nv::nv_handle_listing(command);
    let response = match forward(shared.swtpm_command, command) {
        Ok(response) => response,
        // swtpm is gone or broke the protocol: the client gets a TPM failure, not a hang.
        Err(_) => return error_response(rc::FAILURE),
    };
    match listing {
        Some((property, count)) => nv::merge_nv_handles(response, property, count),
        None => response,
    }
}

/// Sends one command to swtpm over a fresh connection and reads its whole response (bounded by
/// [`MAX_RESPONSE`]).
fn forward(swtpm: SocketAddr, command: &[u8]) -> io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect_timeout(&swtpm, UPSTREAM_TIMEOUT)?;
    upstream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    upstream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    upstream.write_all(command)?;
    let mut header = [0u8; HEADER_LEN];
    upstream.read_exact(&mut header)?;
    let size = usize::try_from(Header::parse(&header).size).unwrap_or(usize::MAX);
    if !(HEADER_LEN..=MAX_RESPONSE).contains(&size) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("swtpm answered with size {size}")));
    }
    let mut response = vec![0u8; size];
    let (head, body) = response.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header);
    upstream.read_exact(body)?;
    Ok(response)
}

/// The control channel of one client, relayed to swtpm's control port byte for byte in both
/// directions until either side closes.
fn relay_control(client: TcpStream, shared: &Arc<Shared>, id: u64) {
    let Ok(upstream) = TcpStream::connect_timeout(&shared.swtpm_control, UPSTREAM_TIMEOUT) else {
        return;
    };
    let upstream_id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    if !register(shared, upstream_id, &upstream) {
        return;
    }
    // Re-check after registering: a Drop that swept the sockets before this registration would
    // otherwise leave this relay waiting.
    if !shared.stop.load(Ordering::SeqCst) {
        let (Ok(client_in), Ok(upstream_out)) = (client.try_clone(), upstream.try_clone()) else {
            lock(&shared.connections).sockets.remove(&upstream_id);
            return;
        };
        let back = std::thread::Builder::new()
            .name(format!("paravisor-ctrl-{id}"))
            .spawn(move || pump(upstream_out, client));
        pump(client_in, upstream);
        if let Ok(back) = back {
            let _ = back.join();
        }
    }
    lock(&shared.connections).sockets.remove(&upstream_id);
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s sending side so the other direction
/// finishes too.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
