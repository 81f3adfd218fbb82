//! `coursebridge-ingest`: the statement side of coursebridge.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod validate;

#[derive(Parser)]
#[command(
    name = "coursebridge-ingest",
    version,
    about = "coursebridge: xAPI statement ingest"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate xAPI statements (a statement, an array, or JSON lines) as ingest would.
    ///
    /// Prints `ok <id or index>` per valid statement and `error <index> <path>: <rule>`
    /// per broken rule. Exit status: 0 all valid, 1 any invalid, 2 unreadable input.
    Validate {
        /// Files to read; `-` (or none) reads standard input.
        files: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { files } => run_validate(files),
    }
}

fn run_validate(mut files: Vec<String>) -> ExitCode {
    if files.is_empty() {
        files.push("-".into());
    }
    let labelled = files.len() > 1;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut invalid = 0;
    for file in &files {
        let bytes = if file == "-" {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("coursebridge-ingest: cannot read standard input: {e}");
                return ExitCode::from(2);
            }
            buf
        } else {
            match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("coursebridge-ingest: cannot read {file}: {e}");
                    return ExitCode::from(2);
                }
            }
        };
        let label = labelled.then_some(file.as_str());
        match validate::validate_input(&bytes, label, &mut out) {
            Ok(o) => invalid += o.invalid,
            Err(e) => {
                eprintln!("coursebridge-ingest: cannot write output: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let _ = out.flush();
    if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
