//! What a plugin evaluation may touch, and the limits it runs under.
//!
//! Every evaluation gets a fresh [`Store`] with:
//! * no filesystem, sockets or environment: those WASI interfaces are not linked at all, and
//!   `wasi:cli/environment` (linked because every Rust std guest imports it) reports no variables,
//!   no arguments and no working directory;
//! * stdin closed; stdout and stderr captured into bounded buffers;
//! * a wall clock frozen at the evaluation time and a virtual monotonic clock that starts at zero
//!   and advances only when the plugin sleeps (a sleep returns at once), so a verdict is a function
//!   of its inputs and no host call can block: every pollable the sandbox hands out is ready;
//! * random bytes derived from the request id (deterministic, not secret: plugins have no secrets);
//! * a wall-clock deadline (epoch interruption), a memory cap over all of the component's memories
//!   together, a bounded wasm stack, and bounds on what the host copies out of the guest.

use std::convert::Infallible;
use std::time::Duration;

use sha2::{Digest, Sha256};

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::bindings::log;
use super::manifest::Kind;
use crate::text;

/// Epoch ticker period: the granularity of time limits.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Wasm stack for every plugin; unbounded recursion traps here instead of exhausting host memory.
pub(crate) const MAX_WASM_STACK: usize = 1 << 20;

/// Largest time limit anyone may set; keeps a misconfigured plugin from hanging the host for hours.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest memory limit anyone may set.
pub const MAX_MEMORY_MIB: u64 = 4096;

/// Captured stdout/stderr per evaluation. More is a runaway plugin, not diagnostics.
pub const MAX_STDIO_BYTES: usize = 64 * 1024;

/// Largest value a plugin may hand back (claims JSON, rendered output).
pub const MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024 - 1;

/// Log lines kept per evaluation, and the length each is cut to; the rest are counted and dropped.
const MAX_LOG_MESSAGES: usize = 256;
const MAX_LOG_MESSAGE_BYTES: usize = 4096;

/// Bytes the host copies out of the guest in one transfer (an export's result, or the arguments of
/// one host call): wasmtime's "hostcall fuel", charged while lifting, for every string and list
/// element (at its host size). Without it a guest could hand back a list of a million records that
/// all point at the same large string and make the host copy it a million times. A result within
/// [`MAX_OUTPUT_BYTES`] always fits.
pub const MAX_TRANSFER_BYTES: usize = 16 << 20;

/// Table elements across all of a component's tables: bounds the host memory a guest can make us
/// allocate outside its linear memory (8 to 16 bytes each).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Per component: linear memories, core instances and tables. A component that declares more is
/// refused when it is loaded; a Rust plugin has one memory, a handful of instances and tables.
/// Memories and tables are what the pool reserves address space for, so they stay tight. Core
/// instances are only counted: each one's metadata is allocated when it is instantiated, within
/// wasmtime's 1 MiB `max_core_instance_size`, so 64 of them hold at most the default memory cap
/// (measured: 4.5 KB for claim-equals, 9.4 KB for the offline verifier, 242 KB for libpython).
/// The limit admits a Python plugin: its CPython is linked from a dozen shared libraries, plus the
/// stubs of the WASI it is denied, 38 instances.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
pub const MAX_TABLES_PER_COMPONENT: u32 = 4;

/// Resources (streams, pollables) live in one evaluation's table at a time.
const MAX_RESOURCES: usize = 10_000;

/// Largest `get-random-bytes` request: a plugin needs a seed, not a megabyte (more traps).
const MAX_RANDOM_REQUEST_BYTES: u64 = 64 * 1024;

/// Instance slots of the pooling allocator: plugins evaluating at the same time in one process.
const POOL_SLOTS: u32 = 32;

/// Memory (and table) bytes of a reused slot kept mapped: a plugin's stack, data and working heap.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The pooling allocator: instantiation reuses pre-reserved slots instead of mapping fresh memory
/// for every evaluation. Slots are sized for the largest memory limit anyone may set.
pub(crate) fn pool() -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_SLOTS)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .total_core_instances(POOL_SLOTS * MAX_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(POOL_SLOTS * MAX_MEMORIES_PER_COMPONENT)
        .total_tables(POOL_SLOTS * MAX_TABLES_PER_COMPONENT)
        // Async fiber stacks are unused, but the pool makes (and mprotects) this many at start-up:
        // the default of 1000 costs a short-lived CLI process ~5 ms.
        .total_stacks(POOL_SLOTS)
        // Reset a slot by rewriting only the pages the last evaluation dirtied (Linux 6.7+ finds
        // them with PAGEMAP_SCAN) instead of unmapping its memory and faulting it in again: a fresh
        // instance per evaluation then costs no page faults.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .max_memory_size(usize::try_from(MAX_MEMORY_MIB << 20).unwrap_or(usize::MAX));
    pool
}

/// Resource limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_mib: u64,
}

impl Limits {
    /// Defaults sized so that honest plugins never notice them.
    pub fn default_for(kind: Kind) -> Limits {
        let timeout = match kind {
            Kind::ClaimCheck | Kind::OutputFormat => Duration::from_secs(1),
            Kind::Verifier => Duration::from_secs(10),
        };
        Limits { timeout, memory_mib: 64 }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }
}

/// The memory cap was hit; carried through the trap so it can be reported as such.
#[derive(Debug, thiserror::Error)]
#[error("memory limit reached")]
pub(crate) struct MemoryLimitHit;

/// Per-evaluation state of a plugin instance.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Bytes of linear memory allowed, and in use, across all of the component's memories.
    memory_limit: usize,
    memory_used: usize,
    /// Table elements in use across all of the component's tables.
    table_elements: usize,
    /// Nanoseconds on the virtual monotonic clock.
    monotonic_ns: u64,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    plugin: String,
    log_kept: usize,
    pub(crate) log_dropped: usize,
}

impl State {
    pub(crate) fn new(plugin: &str, limits: &Limits, now_unix_ms: u64, request_id: &str) -> State {
        let stdout = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_STDIO_BYTES);
        let seed: [u8; 32] = Sha256::new()
            .chain_update(b"cvm-attest plugin random")
            .chain_update(request_id)
            .finalize()
            .into();
        let insecure_seed: [u8; 32] =
            Sha256::new().chain_update(b"insecure-seed").chain_update(seed).finalize().into();
        let mut insecure_seed_bytes = [0u8; 16];
        insecure_seed_bytes.copy_from_slice(&insecure_seed[..16]);
        let wasi = WasiCtx::builder()
            .stdin(ClosedInputStream)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock(Duration::from_millis(now_unix_ms)))
            .secure_random(DeterministicStream::new(b"random", &seed))
            .insecure_random(DeterministicStream::new(b"insecure", &seed))
            .insecure_random_seed(u128::from_le_bytes(insecure_seed_bytes))
            .max_random_size(MAX_RANDOM_REQUEST_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        State {
            wasi,
            table,
            memory_limit: limits.memory_bytes(),
            memory_used: 0,
            table_elements: 0,
            monotonic_ns: 0,
            stdout,
            stderr,
            plugin: plugin.to_owned(),
            log_kept: 0,
            log_dropped: 0,
        }
    }
}

/// A store for one evaluation, with its limits armed.
pub(crate) fn new_store(engine: &wasmtime::Engine, state: State, limits: &Limits) -> Store<State> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| s as &mut dyn ResourceLimiter);
    store.set_hostcall_fuel(MAX_TRANSFER_BYTES);
    store.set_max_component_handles(MAX_RESOURCES);
    // +1: the first tick may come at any moment after arming.
    let ticks = limits.timeout.as_millis().div_ceil(TICK.as_millis()) + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();
    store
}

/// Memory and tables are accounted across the whole component: the limiter is told the current and
/// desired size of the one memory (or table) that grows, so the total is kept here. A growth that
/// then fails for another reason stays counted, which only errs on the safe side.
impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_used.saturating_sub(current).saturating_add(desired);
        if total > self.memory_limit {
            return Err(MemoryLimitHit.into());
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.table_elements.saturating_sub(current).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Err(MemoryLimitHit.into());
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES_PER_COMPONENT as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES_PER_COMPONENT as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES_PER_COMPONENT as usize
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// One line per message, prefixed with the plugin's name, control characters escaped: a plugin
/// cannot forge a line of the host's log or send escape sequences to the terminal.
impl log::Host for State {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_kept >= MAX_LOG_MESSAGES {
            self.log_dropped += 1;
            return;
        }
        self.log_kept += 1;
        let message = text::sanitize(text::prefix(&message, MAX_LOG_MESSAGE_BYTES));
        let plugin = self.plugin.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "plugin {plugin}: {message}"),
            log::Level::Debug => tracing::debug!(plugin, "plugin {plugin}: {message}"),
            log::Level::Info => tracing::info!(plugin, "plugin {plugin}: {message}"),
            log::Level::Warn => tracing::warn!(plugin, "plugin {plugin}: {message}"),
            log::Level::Error => tracing::error!(plugin, "plugin {plugin}: {message}"),
        }
    }
}

/// A wall clock that always reads the same instant.
struct FrozenClock(Duration);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// `wasi:clocks/monotonic-clock`, virtual: it reads zero when the evaluation starts and advances
/// only by what the plugin waits for. A subscription is ready at once and moves the clock to its
/// deadline, so `sleep(d)` returns immediately with the clock `d` later. wasmtime-wasi's own
/// implementation waits on a real timer inside a host call, where the epoch deadline cannot
/// interrupt it: a sleeping plugin would outlive its time limit.
struct VirtualClock<'a> {
    now: &'a mut u64,
    table: &'a mut ResourceTable,
}

struct HasVirtualClock;
impl wasmtime::component::HasData for HasVirtualClock {
    type Data<'a> = VirtualClock<'a>;
}

impl State {
    fn virtual_clock(&mut self) -> VirtualClock<'_> {
        VirtualClock { now: &mut self.monotonic_ns, table: &mut self.table }
    }
}

impl VirtualClock<'_> {
    fn ready(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }
}

impl wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host for VirtualClock<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(*self.now)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        *self.now = (*self.now).max(when);
        self.ready()
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        *self.now = self.now.saturating_add(duration);
        self.ready()
    }
}

/// A pollable that is always ready. Every pollable a plugin can get is ready at once (this, the
/// closed stdin, the in-memory stdout and stderr), so `wasi:io/poll` never waits.
struct Ready;

#[wasmtime_wasi_io::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// Deterministic random bytes: SHA-256 in counter mode over a seed derived from the request id
/// (`SHA-256(seed ‖ label ‖ counter)`, 32 bytes per block). Reproducible for one request id, never
/// repeating within an evaluation, and not secret: anyone who knows the request id can compute it.
struct DeterministicStream {
    key: Sha256,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl DeterministicStream {
    fn new(label: &[u8], seed: &[u8; 32]) -> DeterministicStream {
        let key = Sha256::new().chain_update(seed).chain_update(label);
        DeterministicStream { key, counter: 0, block: [0; 32], used: 32 }
    }
}

impl rand_core::TryRng for DeterministicStream {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            if self.used == self.block.len() {
                self.block = self.key.clone().chain_update(self.counter.to_le_bytes()).finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

/// WASI interfaces a plugin may import, without version. Everything else is refused at load time.
pub(crate) const ALLOWED_WASI: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The one linker every plugin is instantiated through: the allowed WASI subset, `log` and `crypto`
/// (a plugin reaches the last two only when granted: its imports are checked at load).
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::sync::{cli, clocks, io, random};
    use wasmtime_wasi::random::WasiRandom;

    let mut l = Linker::new(engine);
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<State, HasTable>(&mut l, |s| &mut s.table)?;
    io::poll::add_to_linker::<State, HasTable>(&mut l, |s| &mut s.table)?;
    io::streams::add_to_linker::<State, HasTable>(&mut l, |s| &mut s.table)?;
    cli::environment::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::exit::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stdin::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stdout::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stderr::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_input::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_output::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stdin::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stdout::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stderr::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    clocks::wall_clock::add_to_linker::<State, WasiClocks>(&mut l, State::clocks)?;
    clocks::monotonic_clock::add_to_linker::<State, HasVirtualClock>(&mut l, State::virtual_clock)?;
    random::random::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    random::insecure::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    random::insecure_seed::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    log::add_to_linker::<State, HasSelf>(&mut l, |s| s)?;
    super::bindings::crypto::add_to_linker::<State, HasSelf>(&mut l, |s| s)?;
    super::bindings::types::add_to_linker::<State, HasSelf>(&mut l, |s| s)?;
    Ok(l)
}

struct HasTable;
impl wasmtime::component::HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

struct HasSelf;
impl wasmtime::component::HasData for HasSelf {
    type Data<'a> = &'a mut State;
}

impl super::bindings::types::Host for State {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn plugin_randomness_is_reproducible_and_never_cycles() {
        let seed = [7u8; 32];
        let stream = |label: &[u8]| {
            let mut bytes = vec![0u8; 4096];
            DeterministicStream::new(label, &seed).fill_bytes(&mut bytes);
            bytes
        };
        let bytes = stream(b"random");
        assert_eq!(bytes, stream(b"random"), "the same request id gives the same bytes");
        assert_ne!(bytes, stream(b"insecure"), "the two WASI generators differ");
        for period in 1..bytes.len() / 2 {
            assert_ne!(bytes[..bytes.len() - period], bytes[period..], "repeats every {period} bytes");
        }
        // Reading in pieces gives the same stream as reading at once.
        let mut pieces = DeterministicStream::new(b"random", &seed);
        let (a, b) = (pieces.next_u32().to_le_bytes(), pieces.next_u64().to_le_bytes());
        assert_eq!([&a[..], &b[..]].concat(), bytes[..12]);
    }
}
