//! The `fundwatch` binary: parses arguments, sets up logging, runs one
//! subcommand and maps the outcome to a documented exit code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | unexpected error (IO, database, bug) |
//! | 2 | partial failure: some sources of a crawl failed (the others were stored), or some digests or reports were not delivered |
//! | 3 | invalid configuration (nothing was fetched or changed) |
//! | 4 | another fundwatch process holds what this command needs (the daemon's lock, the index writer) |

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    // `run` returns instead of calling `process::exit` so that destructors
    // (database connections, index writers) run before the process ends.
    match cli::run(args) {
        Ok(code) => code.into(),
        // Output piped into `head` that stops reading is not an error (ripgrep).
        Err(err) if cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = cli::Exit::for_error(&err);
            eprintln!("fundwatch: error: {}", cli::error_line(&err));
            code.into()
        }
    }
}
