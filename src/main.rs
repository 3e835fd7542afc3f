//! The `aula` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = aula::app::cli::Cli::parse();
    aula::app::cli::run(cli)
}
