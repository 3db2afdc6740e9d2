//! The `aios` binary: everything happens in [`aios::commands`].

fn main() -> std::process::ExitCode {
    aios::commands::main()
}
