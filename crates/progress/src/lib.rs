//! Progress of long work on stderr: a bar when stderr is a terminal, plain
//! lines otherwise (a log stays readable: a line when a step starts, at most
//! one every [`LINE_EVERY`] while it runs, and one when it is done). stdout
//! is left to the command's output.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Plain lines are at most this often while a step runs.
pub const LINE_EVERY: Duration = Duration::from_secs(2);

/// What a step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Items,
    Bytes,
}

/// A progress display for one command.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    step: String,
    /// When the last line was printed, and the count it showed.
    last: Option<(Instant, u64)>,
}

impl Progress {
    /// A bar if stderr is a terminal and `quiet` is false (e.g. not `--json`),
    /// else plain lines.
    pub fn stderr(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar
        });
        Self {
            bar,
            lines: Mutex::default(),
        }
    }

    /// `done` of `total` in `step` (e.g. `upload`).
    pub fn update(&self, step: &str, done: u64, total: u64, unit: Unit) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new_step = lines.step != step;
        if new_step {
            step.clone_into(&mut lines.step);
        }
        if let Some(bar) = &self.bar {
            if new_step {
                let template = match unit {
                    Unit::Items => "{msg} [{bar:30}] {pos}/{len} ({eta})",
                    Unit::Bytes => "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
                };
                if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                    bar.set_style(style);
                }
                bar.set_message(step.to_owned());
            }
            bar.set_length(total);
            bar.set_position(done);
            return;
        }
        let (due, finished) = match lines.last {
            None => (true, done >= total),
            Some((at, shown)) => (
                at.elapsed() >= LINE_EVERY && shown != done,
                done >= total && shown != done,
            ),
        };
        if new_step || finished || due {
            lines.last = Some((Instant::now(), done));
            let unit = match unit {
                Unit::Items => "",
                Unit::Bytes => " bytes",
            };
            eprintln!("{step}: {done}/{total}{unit}");
        }
    }

    /// Clears the bar (lines stay as printed).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
