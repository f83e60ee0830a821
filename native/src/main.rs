//! `sgdlab`: open the desktop lab (no subcommand, or `app`), run the experiments headless,
//! benchmark the engine.
//!
//! Exit codes: 0 success (a claim that fails is a finding, not an error); 2 bad input (usage,
//! config, data, device, output directory); 3 training diverged (what was computed so far is
//! saved); 4 a claim fails under `--strict`; 130 interrupted by Ctrl-C, SIGTERM or SIGHUP
//! (likewise saved); 1 anything else.

// These modules print only through `say!` and `say_err!` (say.rs): `println!` and `eprintln!`
// panic when stdout or stderr cannot be written.
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod app;
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod bench;
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod bench_ui;
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod mpi;
mod reproduce;
mod run;
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod say;
#[deny(clippy::print_stdout, clippy::print_stderr)]
mod serve;

use clap::{Parser, Subcommand};
use say::say_err;
use std::process::ExitCode;

/// A laboratory for the dynamics of stochastic gradient descent.
#[derive(Parser, Debug)]
#[command(
    name = "sgdlab",
    version,
    about = "A laboratory for the dynamics of SGD: the lab window, six papers' experiments with \
             their claims, benchmarks, and the browser lab's server.",
    after_help = "Start with `sgdlab run --list`, `sgdlab run gossip --preset quick` or \
                  `sgdlab reproduce --preset quick`.\n\
                  Exit codes: 0 success (a claim that fails is a finding); 2 bad input; 3 training \
                  diverged; 4 a claim fails under --strict; 130 interrupted (Ctrl-C, SIGTERM, \
                  SIGHUP; results so far saved); 1 anything else."
)]
struct Cli {
    /// What to do; without one, the lab window opens.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the interactive lab window (the default).
    App(app::AppArgs),
    /// Run an experiment and write config.json, results.json (with its claims), metrics.csv,
    /// plots and report.md; `run --list` lists the experiments.
    Run(run::RunArgs),
    /// Run every experiment (or --only some) and write index.md and index.html with all claims.
    Reproduce(reproduce::ReproduceArgs),
    /// Measure throughput.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The gossip algorithms with one process per node: `mpirun -n N sgdlab mpi-gossip` (built
    /// with the `mpi` feature), or `--engine sim --nodes N` for the one-process reference.
    MpiGossip(mpi::MpiGossipArgs),
    /// Serve the browser lab (web/dist, built by web/build.sh) on http://127.0.0.1:PORT/.
    Serve(serve::ServeArgs),
}

/// How a command failed, mapped to the documented exit codes.
#[derive(Debug)]
pub enum Failure {
    /// Bad input: exit code 2.
    BadInput(anyhow::Error),
    /// Training diverged: exit code 3.
    Diverged(anyhow::Error),
    /// A claim fails under `--strict`: exit code 4.
    ClaimFailed(String),
    /// Interrupted by the user: exit code 130.
    Interrupted(String),
    /// Anything else: exit code 1.
    Other(anyhow::Error),
}

impl From<sgdlab_engine::EngineError> for Failure {
    fn from(e: sgdlab_engine::EngineError) -> Self {
        use sgdlab_engine::EngineError as E;
        match e {
            E::Diverged { .. } => Self::Diverged(e.into()),
            e if e.is_bad_input() => Self::BadInput(e.into()),
            e => Self::Other(e.into()),
        }
    }
}

#[deny(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let outcome = match cli.command {
        None => app::app(app::AppArgs {
            exports: "sgdlab-exports".into(),
            screenshot_after: 5.0,
            ..app::AppArgs::default()
        }),
        Some(Command::App(args)) => app::app(args),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Reproduce(args)) => reproduce::reproduce(args),
        Some(Command::Bench(cmd)) => bench::bench(cmd),
        Some(Command::Serve(args)) => serve::serve(args),
        Some(Command::MpiGossip(args)) => mpi::mpi_gossip(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            say_err!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Diverged(e)) => {
            say_err!("error: {e:#}");
            ExitCode::from(3)
        }
        Err(Failure::ClaimFailed(msg)) => {
            say_err!("error: {msg}");
            ExitCode::from(4)
        }
        Err(Failure::Interrupted(msg)) => {
            say_err!("interrupted: {msg}");
            ExitCode::from(130)
        }
        Err(Failure::Other(e)) => {
            say_err!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Prints clap's answer (help and version to stdout, usage errors to stderr) and gives its exit
/// code (0 or 2). `Error::exit` would swallow a failed write; here help or a version that cannot
/// be written to stdout exits 1, as any other command's output does.
#[deny(clippy::print_stdout, clippy::print_stderr)]
fn clap_exit(e: &clap::Error) -> ExitCode {
    use std::io::Write;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    if e.use_stderr() {
        // A usage error that cannot reach stderr: the exit code still says it.
        let _ = e.print();
        return ExitCode::from(code);
    }
    match e.print().and_then(|()| std::io::stdout().flush()) {
        Ok(()) => ExitCode::from(code),
        Err(err) => {
            say_err!("error: writing to stdout: {err}");
            ExitCode::from(1)
        }
    }
}
