//! A private swtpm: `swtpm socket --tpm2` on two adjacent free loopback ports (the TPM command port P
//! and the control port P+1, as tpm2-tss's `swtpm` TCTI expects), already started up
//! (`--flags not-need-init,startup-clear`), with its state in a directory of its own. It is killed and
//! reaped on drop, so no swtpm outlives its owner (short of the owner being killed with SIGKILL).

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// Attempts at finding two adjacent free ports that swtpm then binds: another process may take one
/// between the probe and swtpm's bind.
const ATTEMPTS: usize = 20;
/// How long swtpm may take to listen; it is ready in milliseconds, but the machine may be busy.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of swtpm's log an error quotes.
const LOG_TAIL: usize = 2000;

/// tpm2-tss opens its sockets without `CLOEXEC`, so a process spawned while one is open inherits it,
/// and an inherited connection to swtpm's command port holds swtpm's only client slot until that
/// process exits. The simulator's own direct connections to swtpm (provisioning, before the
/// paravisor serves it) are made under this lock shared ([`direct_connections`]), and swtpm is
/// spawned under it exclusively, so that no swtpm of this process inherits one.
static DIRECT_CONNECTIONS: RwLock<()> = RwLock::new(());

/// Held while the simulator talks to a swtpm directly through tpm2-tss; see [`DIRECT_CONNECTIONS`].
pub(crate) fn direct_connections() -> RwLockReadGuard<'static, ()> {
    DIRECT_CONNECTIONS.read().unwrap_or_else(PoisonError::into_inner)
}

/// A running swtpm; see the module documentation.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    state: StateDir,
}

/// Where the TPM state lives: the caller's directory, or a temporary one removed on drop (declared
/// after the child in [`Swtpm`], so it is removed after swtpm is gone).
#[derive(Debug)]
enum StateDir {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl StateDir {
    fn path(&self) -> &Path {
        match self {
            StateDir::Given(path) => path,
            StateDir::Temporary(dir) => dir.path(),
        }
    }
}

/// Why swtpm could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwtpmError {
    #[error(
        "the `swtpm` binary is not installed (or not on PATH); the simulated vTPM needs it: run \
         `apt-get install swtpm swtpm-tools`"
    )]
    NotInstalled,
    #[error("cannot run swtpm: {0}")]
    Spawn(#[source] io::Error),
    #[error("cannot prepare the swtpm state directory {}: {source}", path.display())]
    StateDir { path: PathBuf, source: io::Error },
    #[error("cannot find free loopback ports: {0}")]
    Ports(#[source] io::Error),
    #[error("swtpm did not start on free loopback ports in {attempts} attempts; its last log: {log}")]
    NotStarted { attempts: usize, log: String },
}

impl Swtpm {
    /// Starts swtpm with its state in `state_dir` (created if missing; an existing state, such as a
    /// persisted AK, is kept), or in a fresh temporary directory removed on drop when `None`. Its
    /// log is `swtpm.log` in that directory.
    pub fn start(state_dir: Option<&Path>) -> Result<Swtpm, SwtpmError> {
        let state = match state_dir {
            Some(path) => {
                std::fs::create_dir_all(path)
                    .map_err(|source| SwtpmError::StateDir { path: path.to_owned(), source })?;
                StateDir::Given(path.to_owned())
            }
            None => StateDir::Temporary(
                tempfile::Builder::new()
                    .prefix("cvm-attest-swtpm-")
                    .tempdir()
                    .map_err(|source| SwtpmError::StateDir { path: std::env::temp_dir(), source })?,
            ),
        };
        let dir = state.path().to_owned();
        let pid_file = dir.join("swtpm.pid");
        let log_file = dir.join("swtpm.log");
        for _ in 0..ATTEMPTS {
            let port = free_port_pair().map_err(SwtpmError::Ports)?;
            let Some(port) = port else { continue };
            // A stale pid file from an earlier run must not pass for this one's.
            let _ = std::fs::remove_file(&pid_file);
            let log = File::create(&log_file)
                .map_err(|source| SwtpmError::StateDir { path: log_file.clone(), source })?;
            let mut child = spawn(port, &dir, &pid_file, log)?;
            if wait_until_listening(&mut child, &pid_file) {
                return Ok(Swtpm { child, port, state });
            }
            // Most likely another process took one of the ports: try others.
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        let tail = log.char_indices().rev().nth(LOG_TAIL).and_then(|(i, _)| log.get(i..)).unwrap_or(&log);
        Err(SwtpmError::NotStarted { attempts: ATTEMPTS, log: tail.trim().to_owned() })
    }

    /// The TPM command port (its `--server`).
    pub fn command_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The control port (its `--ctrl`), the command port + 1.
    pub fn control_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port + 1))
    }

    /// The TCTI string of swtpm itself (bypassing any proxy): `swtpm:host=127.0.0.1,port=P`.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The swtpm process's ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        // SIGKILL: the state is disposable, and swtpm cannot ignore it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `swtpm socket --tpm2` on ports `port` and `port + 1` of 127.0.0.1, logging to `log`.
fn spawn(port: u16, dir: &Path, pid_file: &Path, log: File) -> Result<Child, SwtpmError> {
    let stderr = log.try_clone().map_err(SwtpmError::Spawn)?;
    let _spawning = DIRECT_CONNECTIONS.write().unwrap_or_else(PoisonError::into_inner);
    let spawned = Command::new("swtpm")
        .args(["socket", "--tpm2", "--server"])
        .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
        .arg("--tpmstate")
        .arg(format!("dir={}", dir.display()))
        .arg("--pid")
        .arg(format!("file={}", pid_file.display()))
        .args(["--flags", "not-need-init,startup-clear"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn();
    spawned.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => SwtpmError::NotInstalled,
        _ => SwtpmError::Spawn(e),
    })
}

/// A port P such that P and P+1 were both free a moment ago (`None`: P+1 was taken).
fn free_port_pair() -> io::Result<Option<u16>> {
    let first = TcpListener::bind("127.0.0.1:0")?;
    let Some(next) = first.local_addr()?.port().checked_add(1) else { return Ok(None) };
    Ok(TcpListener::bind(("127.0.0.1", next)).is_ok().then_some(next - 1))
}

/// swtpm writes its pid file once it listens on both ports; false when it exited or took too long.
fn wait_until_listening(child: &mut Child, pid_file: &Path) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if std::fs::read_to_string(pid_file).is_ok_and(|pid| pid.trim() == child.id().to_string()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
