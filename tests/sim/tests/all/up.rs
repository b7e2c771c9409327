//! The `cvm-attest-sim` binary: `up` prints variables that lead to a working vTPM, IMDS and
//! configuration, and stops on SIGTERM leaving no swtpm process and no temporary directory behind;
//! `run` gives a command those variables and exits with its status.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cvm_attest::evidence::imds::{Imds, Retry};
use cvm_attest::evidence::vtpm::Vtpm;
use cvm_attest_formats::eventlog::EventLog;
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::tpm::HashAlg;

const SIM: &str = env!("CARGO_BIN_EXE_cvm-attest-sim");
const STARTUP: Duration = Duration::from_secs(60);

/// The variables `up` printed, once it printed the last one (`CVM_ATTEST_SIM_CONFIG`).
fn read_variables(child: &mut Child) -> BTreeMap<String, String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + STARTUP;
    let mut variables = BTreeMap::new();
    while !variables.contains_key("CVM_ATTEST_SIM_CONFIG") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received.recv_timeout(left).expect("`up` prints its variables");
        let (name, value) = parse_line(&line);
        variables.insert(name, value);
    }
    variables
}

/// `export NAME='value'` (the values here hold no quote).
fn parse_line(line: &str) -> (String, String) {
    let assignment = line.strip_prefix("export ").unwrap_or_else(|| panic!("an export line: {line}"));
    let (name, quoted) = assignment.split_once('=').expect("NAME=value");
    let value = quoted.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).expect("single-quoted");
    (name.to_owned(), value.to_owned())
}

/// The IDs of `parent`'s children named `name`, from /proc.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // /proc/PID/stat: "PID (comm) state PPID …"; comm may hold spaces, so split after ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some((head, tail)) = stat.rsplit_once(')') else { return false };
            let comm = head.split_once('(').map(|(_, comm)| comm);
            let ppid = tail.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
            comm == Some(name) && ppid == Some(parent)
        })
        .collect()
}

/// Whether a process `pid` named `name` exists (a zombie counts: it was not reaped).
fn alive(pid: u32, name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.contains(&format!("({name})")))
}

/// `cvm-attest-sim up`, stopped with SIGTERM (then SIGKILL) if the test ends without stopping it,
/// so that a failing test leaves no simulator (and no swtpm) running.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = rustix::process::Pid::from_child(&self.0);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cvm-attest-sim did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn up_prints_working_variables_and_sigterm_leaves_nothing_behind() {
    let mut sim = Up(Command::new(SIM)
        .args(["up", "--tee", "snp", "--location", "westeurope"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cvm-attest-sim up"));
    let variables = read_variables(&mut sim.0);
    let names: Vec<&str> = variables.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "CVM_ATTEST_CA_FILE",
            "CVM_ATTEST_EVENT_LOG",
            "CVM_ATTEST_IMDS_URL",
            "CVM_ATTEST_MAA_URL",
            "CVM_ATTEST_SIM_CONFIG",
            "CVM_ATTEST_SIM_MAA_ADMIN_URL",
            "CVM_ATTEST_TCTI"
        ]
    );
    // The vTPM answers through the TCTI, and the event log replays to its PCRs.
    let mut vtpm = Vtpm::open(&variables["CVM_ATTEST_TCTI"]).expect("open the printed TCTI");
    let log = std::fs::read(&variables["CVM_ATTEST_EVENT_LOG"]).expect("the event log");
    let replayed = EventLog::parse(&log).expect("parses").replay(HashAlg::Sha256).expect("replays");
    let pcrs = vtpm.read_pcrs(&[0, 1, 2, 3, 4, 5, 6, 7]).expect("read PCRs 0-7");
    for (index, value) in pcrs {
        assert_eq!(replayed.get(&u32::from(index)), Some(&value), "PCR {index}");
    }

    // ... with an SEV-SNP HCL report.
    let report = HclReport::parse(&vtpm.read_hcl_report().expect("read the HCL report")).expect("parses");
    assert!(matches!(report.hardware_report(), HardwareReport::Snp(_)));
    drop(vtpm);
    // IMDS answers with the region asked for.
    let imds = Imds::new(&variables["CVM_ATTEST_IMDS_URL"], Retry::default()).expect("IMDS URL");
    assert_eq!(imds.location().expect("IMDS answers"), "westeurope");
    // The configuration trusts the test roots it names, which exist.
    let config = Path::new(&variables["CVM_ATTEST_SIM_CONFIG"]);
    let config = cvm_attest::config::Config::load(config).expect("a valid cvm-attest configuration");
    let anchors: Vec<&str> = config.trust_anchors.keys().map(String::as_str).collect();
    assert_eq!(anchors, ["amd-ark-milan", "amd-ask-milan", "azure-vtpm-intermediate", "azure-vtpm-root"]);
    assert!(config.trust_anchors.values().all(|path| path.is_file()));
    assert!(Path::new(&variables["CVM_ATTEST_CA_FILE"]).is_file());
    assert!(variables["CVM_ATTEST_MAA_URL"].starts_with("https://127.0.0.1:"));
    // MAA's fault injection answers (plain HTTP, so a socket will do).
    let admin = variables["CVM_ATTEST_SIM_MAA_ADMIN_URL"].strip_prefix("http://").expect("an http URL");
    let mut socket = TcpStream::connect(admin).expect("connect to MAA's admin listener");
    socket.write_all(b"GET /faults HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let dir = Path::new(&variables["CVM_ATTEST_SIM_CONFIG"]).parent().expect("its directory").to_owned();
    assert!(dir.join("env").is_file());

    let swtpm = children_named(sim.0.id(), "swtpm");
    assert_eq!(swtpm.len(), 1, "one swtpm of its own");
    let pid = rustix::process::Pid::from_child(&sim.0);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = wait_with_timeout(&mut sim.0, Duration::from_secs(30));
    assert!(status.success(), "stopped by SIGTERM, it exits 0: {status}");
    assert!(!alive(swtpm[0], "swtpm"), "swtpm {} was killed and reaped", swtpm[0]);
    assert!(!dir.exists(), "{} was removed", dir.display());
}

#[test]
fn run_gives_the_command_the_variables_and_exits_with_its_status() {
    let output = Command::new(SIM)
        .args(["run", "--tee", "tdx", "--"])
        .args(["sh", "-c", r#"echo "$CVM_ATTEST_TCTI"; echo "$CVM_ATTEST_SIM_CONFIG"; exit 7"#])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cvm-attest-sim run");
    assert_eq!(output.status.code(), Some(7));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    let [tcti, config] = lines.as_slice() else { panic!("two lines: {stdout}") };
    assert!(tcti.starts_with("swtpm:host=127.0.0.1,port="), "{tcti}");
    let config = Path::new(config);
    assert!(config.ends_with("config.toml"), "{}", config.display());
    assert!(!config.parent().expect("dir").exists(), "the temporary directory was removed");
}

#[test]
fn run_keeps_a_given_dir_and_says_when_the_command_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kept = dir.path().join("sim");
    let status = Command::new(SIM)
        .args(["run", "--dir"])
        .arg(&kept)
        .args(["--", "true"])
        .status()
        .expect("run cvm-attest-sim run");
    assert!(status.success());
    for file in ["config.toml", "env", "tls-ca.pem", "anchors/azure-vtpm-root.pem", "swtpm/swtpm.log"] {
        assert!(kept.join(file).is_file(), "{file} is kept in --dir");
    }
    let env = std::fs::read_to_string(kept.join("env")).expect("env");
    assert!(env.lines().all(|line| line.starts_with("export CVM_ATTEST_")), "{env}");

    let output = Command::new(SIM)
        .args(["run", "--", "/nonexistent/command"])
        .output()
        .expect("run cvm-attest-sim run");
    assert_eq!(output.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot run /nonexistent/command"));
}

#[test]
fn without_swtpm_it_says_what_to_install() {
    let output = Command::new(SIM)
        .args(["run", "--", "true"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("run cvm-attest-sim run");
    assert_eq!(output.status.code(), Some(125), "the simulator itself failed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("apt-get install swtpm swtpm-tools"), "{stderr}");
}
