use std::process::ExitCode;

fn main() -> ExitCode {
    cvm_attest::cli::main()
}
