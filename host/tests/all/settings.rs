//! `attest`'s settings come from flag, else `CVM_ATTEST_*` variable, else the configuration's
//! `[attest]` table, else the default; `config show` says which, and bad values are refused naming
//! the key and the file.

use crate::support::cvm_attest;

/// `config show`'s rows: key, value, where it came from.
type Rows = Vec<(String, String, String)>;

/// `config show ARGS…` with `config` as the configuration file and `env` set: its `attest` table as
/// (key, value, source) rows, or the error on stderr with the exit status.
fn show(config: &str, env: &[(&str, &str)], args: &[&str]) -> Result<Rows, (i32, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    let out = cvm_attest()
        .arg("--config")
        .arg(&path)
        .args(["config", "show"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run");
    if !out.status.success() {
        return Err((out.status.code().expect("status"), String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(text.starts_with(&format!("configuration   {}", path.display())), "{text}");
    let table = text.split("\nattest ").nth(1).expect("the attest table");
    Ok(table
        .lines()
        .skip(1)
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (key, source) = (words[0], words[words.len() - 1]);
            (key.to_owned(), words[1..words.len() - 1].join(" "), source.to_owned())
        })
        .collect())
}

fn row<'a>(rows: &'a Rows, key: &str) -> (&'a str, &'a str) {
    let (_, value, source) = rows.iter().find(|(k, _, _)| k == key).unwrap_or_else(|| panic!("no {key}"));
    (value, source)
}

#[test]
fn flag_beats_variable_beats_file_beats_default() {
    let file = "maa_url = \"https://sharedkrc.krc.attest.azure.net\"\n[attest]\ntimeout = 7\nretries = 1\ntype = \"sev-snp-vm\"\n";
    let env = [("CVM_ATTEST_TIMEOUT", "8"), ("CVM_ATTEST_TYPE", "tdx-vm")];
    let rows = show(file, &env, &["--type", "azure-guest"]).expect("valid");
    assert_eq!(row(&rows, "type"), ("azure-guest", "flag"), "the flag over variable and file");
    assert_eq!(row(&rows, "timeout"), ("8 s", "$CVM_ATTEST_TIMEOUT"), "the variable over the file");
    assert_eq!(row(&rows, "retries"), ("1", "configuration"), "the file over the default");
    assert_eq!(row(&rows, "pcrs"), ("0,1,2,3,4,5,6,7", "default"));
    assert_eq!(row(&rows, "maa_url"), ("https://sharedkrc.krc.attest.azure.net", "configuration"));
    let rows = show(file, &[("CVM_ATTEST_MAA_URL", "https://my.attest.azure.net")], &[]).expect("valid");
    assert_eq!(row(&rows, "maa_url"), ("https://my.attest.azure.net", "$CVM_ATTEST_MAA_URL"));
    assert_eq!(row(&rows, "type"), ("sev-snp-vm", "configuration"));
}

#[test]
fn a_repeatable_flag_replaces_the_files_list() {
    let file = "[attest]\nchecks = [\"policy=a.json\", \"claim-equals=b.json\"]\nwrite = [\"env=/run/e\"]\n";
    let rows = show(file, &[], &[]).expect("valid");
    assert_eq!(row(&rows, "checks"), ("policy=a.json claim-equals=b.json", "configuration"));
    assert_eq!(row(&rows, "write"), ("env=/run/e", "configuration"));
    let rows = show(file, &[], &["--check", "policy=c.json"]).expect("valid");
    assert_eq!(row(&rows, "checks"), ("policy=c.json", "flag"));
}

#[test]
fn unknown_keys_and_bad_values_name_the_line_or_the_key() {
    let (status, err) = show("[attest]\ntimeout = 5\ntimout = 5\n", &[], &[]).unwrap_err();
    assert_eq!(status, 2);
    assert!(err.contains("line 3, column 1") && err.contains("unknown field `timout`"), "{err}");
    for (file, key) in [
        ("[attest]\ntype = \"sgx\"\n", "[attest] type"),
        ("[attest]\npcrs = \"0-99\"\n", "[attest] pcrs"),
        ("[attest]\nwrite = [\"env\"]\n", "[attest] write"),
    ] {
        let (status, err) = show(file, &[], &[]).unwrap_err();
        assert!(status == 2 && err.contains(key) && err.contains("config.toml"), "{file}: {err}");
    }
    // A bad value in the file does not matter when a flag overrides it.
    show("[attest]\ntype = \"sgx\"\n", &[], &["--type", "tdx-vm"]).expect("the flag wins");
}
