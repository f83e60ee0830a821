//! Writing to stdout and stderr without panicking.
//!
//! `println!` and `eprintln!` panic (exit code 101) when the write fails: stdout or stderr
//! redirected to a full disk or `/dev/full`, or a pipe whose reader has gone. Every line the
//! `sgdlab` binary prints goes through one of these two macros instead:
//!
//! - [`say!`] (stdout) is for the command's product: `run --list`, `--json`, bench figures, the
//!   served URL. It returns `Result<(), Failure>`; a failed write is [`Failure::Other`] (exit
//!   code 1, with `error: writing to stdout: …` on stderr when stderr works). Use it with `?`:
//!   `say!("{:<14} {}", e.name, e.title)?;`
//! - [`say_err!`] (stderr) is for diagnostics: the device line, progress notes, claims, the final
//!   `error: …`. A failed write is ignored: a run must not die, nor lose its results, because
//!   stderr is closed or full. It returns `()`: `say_err!("sgdlab: {}: {}", name, reason);`
//!
//! Both take `format!` arguments, add the newline, and write the whole line with one `write`
//! call (stderr is unbuffered, stdout is flushed after each line), so lines of several processes
//! that share a stream (the ranks under `mpirun`) do not interleave, and a failed stdout write
//! is seen at the line that failed rather than lost in a buffer at exit.

use crate::Failure;
use anyhow::Context;
use std::io::Write;

/// Writes `bytes` to stdout and flushes; a failure is [`Failure::Other`] (exit code 1).
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
        .map_err(Failure::Other)
}

/// Writes `bytes` to stderr, ignoring a failure (see the module docs).
pub fn write_stderr(bytes: &[u8]) {
    let _ = std::io::stderr().lock().write_all(bytes);
}

/// Prints one line of the command's output to stdout: `say!("{x} items")?`. Evaluates to
/// `Result<(), Failure>`: a write that fails is an error (exit code 1), never a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say::write_stdout(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use say;

/// Prints one diagnostic line to stderr: `say_err!("sgdlab: {reason}")`. A write that fails is
/// ignored (a run goes on when stderr is closed or full).
macro_rules! say_err {
    ($($arg:tt)*) => {
        $crate::say::write_stderr(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use say_err;

#[cfg(test)]
mod tests {
    #[test]
    fn the_macros_format_like_println() {
        // Under the test harness stdout and stderr are captured and writable.
        let n = 3;
        assert!(say!("{n} lines, {:>3}", "ok").is_ok());
        say_err!("{n} diagnostics");
    }
}
