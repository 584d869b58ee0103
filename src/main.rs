//! The `tic-rec` binary: a thin shell over the `tic_rec` library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
