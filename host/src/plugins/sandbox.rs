//! What a plugin evaluation may touch, and the limits it runs under.
//!
//! Every evaluation gets a fresh [`Store`] with:
//! * no filesystem, sockets or environment: those WASI interfaces are not linked at all, and
//!   `wasi:cli/environment` (linked because every Rust std guest imports it) reports no variables,
//!   no arguments and no working directory;
//! * stdin closed; stdout and stderr captured into bounded buffers;
//! * a wall clock frozen at the evaluation time and a monotonic clock that does not advance, so a
//!   verdict is a function of its inputs;
//! * random bytes derived from the request id (deterministic, not secret: plugins have no secrets);
//! * a wall-clock deadline (epoch interruption), a memory cap and a bounded wasm stack.

use std::time::Duration;

use sha2::{Digest, Sha256};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::log;
use super::manifest::Kind;

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

/// Table elements per table: bounds the host memory a guest can make us allocate outside its heap.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Instance slots of the pooling allocator: plugins evaluating at the same time in one process.
const POOL_SLOTS: u32 = 32;

/// Memory (and table) bytes of a reused slot kept mapped: a plugin's stack, data and working heap.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The pooling allocator: instantiation reuses pre-reserved slots instead of mapping fresh memory
/// for every evaluation. Slots are sized for the largest memory limit anyone may set.
pub(crate) fn pool() -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_SLOTS)
        .total_core_instances(POOL_SLOTS * 4)
        .total_memories(POOL_SLOTS * 2)
        .total_tables(POOL_SLOTS * 4)
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
    memory_limit: usize,
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
        let seed =
            Sha256::new().chain_update(b"cvm-attest plugin random").chain_update(request_id).finalize();
        let wasi = WasiCtx::builder()
            .stdin(ClosedInputStream)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock(Duration::from_millis(now_unix_ms)))
            .monotonic_clock(FrozenClock(Duration::ZERO))
            .secure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random_seed(u128::from_le_bytes(seed[..16].try_into().unwrap_or_default()))
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            memory_limit: limits.memory_bytes(),
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
    // +1: the first tick may come at any moment after arming.
    let ticks = limits.timeout.as_millis().div_ceil(TICK.as_millis()) + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();
    store
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            return Err(MemoryLimitHit.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(MemoryLimitHit.into());
        }
        Ok(true)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl log::Host for State {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_kept >= MAX_LOG_MESSAGES {
            self.log_dropped += 1;
            return;
        }
        self.log_kept += 1;
        let message = truncate(&message, MAX_LOG_MESSAGE_BYTES);
        let plugin = self.plugin.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// The longest prefix of `s` within `max` bytes, on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A clock that always reads the same instant.
struct FrozenClock(Duration);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX)
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

/// The one linker every plugin is instantiated through: the allowed WASI subset and `log`.
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
    clocks::monotonic_clock::add_to_linker::<State, WasiClocks>(&mut l, State::clocks)?;
    random::random::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    random::insecure::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    random::insecure_seed::add_to_linker::<State, WasiRandom>(&mut l, |s| s.wasi.random())?;
    log::add_to_linker::<State, HasSelf>(&mut l, |s| s)?;
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
