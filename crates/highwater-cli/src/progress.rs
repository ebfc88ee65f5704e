//! `--progress`: the live view of a transfer on stderr.
//!
//! On a terminal, one line redrawn in place a few times a second, fitted to
//! the terminal's width: bytes so far, elapsed time, the current and the
//! average rate, a bar, the percentage and the ETA when the size is known (a
//! spinner otherwise), and the write buffer's fill against its mark. When
//! stderr is not a terminal, a complete plain line every `--interval`. Either
//! way the transfer ends with a final line that stays: the totals, and
//! whether it completed.
//!
//! The layout is pure functions (a [`Snapshot`] and a width in, a `String`
//! out); [`Progress`] only decides when to write and where.
//!
//! The line is drawn here rather than with an indicatif template: a template
//! cannot drop or shorten fields by priority, and indicatif does not tell
//! its caller the terminal's width.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use highwater_transfer::Sample;

use crate::engine::CopyConfig;
use crate::error::CliError;
use crate::size::human;

/// Seconds between two redraws of the live line (five a second).
const REDRAW_EVERY: f64 = 0.2;
/// The current rate is measured over about this many seconds.
const RATE_SPAN: f64 = 1.0;
/// A rate measured over less than this many seconds is not shown.
const MIN_RATE_SPAN: f64 = 0.1;
/// The narrowest bar drawn, brackets included; narrower, it is dropped.
const MIN_BAR: usize = 12;
/// The width assumed when the terminal's cannot be found.
const DEFAULT_WIDTH: usize = 80;
/// The spinner's frames, shown when the size is unknown.
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
/// Clears from the cursor to the end of the line.
const CLEAR_TO_EOL: &str = "\x1b[K";

/// A progress display for one transfer; clones share it.
#[derive(Clone)]
pub struct Progress {
    state: Rc<RefCell<State>>,
}

impl Progress {
    /// A display for a transfer of `total` bytes (if known) configured by
    /// `cfg`: a live line if stderr is a terminal, plain lines otherwise.
    pub fn new(total: Option<u64>, cfg: &CopyConfig) -> Progress {
        let out = if std::io::stderr().is_terminal() {
            Output::Live(Live::on_stderr())
        } else {
            Output::Plain(Plain::every(cfg.progress_interval.as_secs_f64()))
        };
        Progress {
            state: Rc::new(RefCell::new(State::new(cfg, total, out))),
        }
    }

    /// Takes a sample in, and shows it if it is time to.
    pub fn update(&self, s: &Sample) {
        let text = self.state.borrow_mut().on_sample(s);
        if let Some(text) = text {
            write_stderr(&text);
        }
    }

    /// The transfer is over: `outcome` says how; `bytes` were transferred
    /// in `seconds`. Leaves the final line on stderr, newline included.
    pub fn finish(&self, outcome: &Result<(), CliError>, bytes: u64, seconds: f64) {
        let text = self
            .state
            .borrow_mut()
            .on_finish(Ended::of(outcome), bytes, seconds);
        write_stderr(&text);
    }
}

/// Writes `text` to stderr at once. A failure is ignored: the progress
/// display must not fail the transfer.
fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// What the display knows and when it last wrote.
struct State {
    command: &'static str,
    total: Option<u64>,
    mark: usize,
    rates: RateWindow,
    out: Output,
}

/// Where, and how, progress goes.
enum Output {
    /// A terminal: one line redrawn in place.
    Live(Live),
    /// Not a terminal: one complete line every interval.
    Plain(Plain),
}

/// The live line's state.
struct Live {
    /// The terminal's width in columns.
    width: usize,
    /// Whether to measure the terminal again before each draw (a window
    /// can be resized during a copy).
    follow: bool,
    /// When the line was last drawn (seconds since the start).
    drawn_at: Option<f64>,
    /// Draws so far: turns the spinner.
    draws: usize,
}

impl Live {
    /// A live line on stderr, as wide as its terminal.
    fn on_stderr() -> Live {
        Live {
            width: terminal_width(),
            follow: true,
            drawn_at: None,
            draws: 0,
        }
    }

    /// A live line `width` columns wide that does not watch for resizes.
    #[cfg(test)]
    fn fixed(width: usize) -> Live {
        Live {
            width,
            follow: false,
            drawn_at: None,
            draws: 0,
        }
    }

    /// Whether a redraw is due at `t`; if it is, counts it.
    fn due(&mut self, t: f64) -> bool {
        if self.drawn_at.is_some_and(|d| t - d < REDRAW_EVERY) {
            return false;
        }
        self.drawn_at = Some(t);
        self.draws += 1;
        true
    }

    /// Measures the width again (one `ioctl`, at most a few times a
    /// second), so a resized window is followed.
    fn follow_resize(&mut self) {
        if self.follow {
            self.width = terminal_width();
        }
    }
}

/// The plain lines' schedule.
struct Plain {
    /// Seconds between lines.
    interval: f64,
    /// When the next line is due (seconds since the start).
    next: f64,
}

impl Plain {
    /// A line every `interval` seconds, the first one interval in.
    fn every(interval: f64) -> Plain {
        Plain {
            interval,
            next: interval,
        }
    }

    /// Whether a line is due at `t`; if it is, schedules the next one.
    fn due(&mut self, t: f64) -> bool {
        if t < self.next {
            return false;
        }
        while self.next <= t {
            self.next += self.interval;
        }
        true
    }
}

impl State {
    fn new(cfg: &CopyConfig, total: Option<u64>, out: Output) -> State {
        State {
            command: cfg.command,
            total,
            mark: cfg.high_water_mark,
            rates: RateWindow::default(),
            out,
        }
    }

    /// Takes `s` in; returns what to write, if it is time to write.
    fn on_sample(&mut self, s: &Sample) -> Option<String> {
        self.rates.push(s.t, s.bytes);
        let mut snap = Snapshot {
            bytes: s.bytes,
            total: self.total,
            elapsed: s.t,
            rate_now: self.rates.rate(),
            rate_avg: average(s.bytes, s.t),
            buffered: s.buffered,
            mark: self.mark,
            spin: 0,
        };
        match &mut self.out {
            Output::Live(live) => {
                if !live.due(s.t) {
                    return None;
                }
                live.follow_resize();
                snap.spin = live.draws;
                Some(format!("\r{}{CLEAR_TO_EOL}", live_line(&snap, live.width)))
            }
            Output::Plain(plain) => plain
                .due(s.t)
                .then(|| format!("{}\n", plain_line(self.command, &snap))),
        }
    }

    /// The final line, to write once the transfer is over.
    fn on_finish(&mut self, ended: Ended, bytes: u64, seconds: f64) -> String {
        let summary = Summary {
            ended,
            bytes,
            total: self.total,
            seconds,
        };
        match &mut self.out {
            Output::Live(live) => {
                live.follow_resize();
                format!(
                    "\r{}{CLEAR_TO_EOL}\n",
                    final_line(self.command, &summary, Some(live.width))
                )
            }
            Output::Plain(_) => format!("{}\n", final_line(self.command, &summary, None)),
        }
    }
}

/// The average rate of `bytes` in `seconds`, once long enough to mean
/// something.
fn average(bytes: u64, seconds: f64) -> Option<f64> {
    (seconds >= MIN_RATE_SPAN).then(|| bytes as f64 / seconds)
}

/// The current rate: bytes over about the last [`RATE_SPAN`] seconds.
#[derive(Default)]
struct RateWindow {
    /// `(seconds, bytes)` points, oldest first; the first one is the last
    /// point at least a span old, once there is one.
    points: VecDeque<(f64, u64)>,
}

impl RateWindow {
    /// Adds the point `bytes` at `t` (times never go back).
    fn push(&mut self, t: f64, bytes: u64) {
        self.points.push_back((t, bytes));
        while self
            .points
            .get(1)
            .is_some_and(|&(t1, _)| t1 <= t - RATE_SPAN)
        {
            self.points.pop_front();
        }
    }

    /// Bytes per second over the window, if it spans long enough.
    fn rate(&self) -> Option<f64> {
        let (&(t0, b0), &(t1, b1)) = (self.points.front()?, self.points.back()?);
        (t1 - t0 >= MIN_RATE_SPAN).then(|| b1.saturating_sub(b0) as f64 / (t1 - t0))
    }
}

/// The state one progress line shows.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    /// Bytes transferred so far.
    bytes: u64,
    /// The whole transfer's size, if known.
    total: Option<u64>,
    /// Seconds since the start.
    elapsed: f64,
    /// The current rate (bytes per second), once measurable.
    rate_now: Option<f64>,
    /// The average rate since the start, once measurable.
    rate_avg: Option<f64>,
    /// Bytes in the write buffer.
    buffered: usize,
    /// The write buffer's mark.
    mark: usize,
    /// Turns the spinner: the number of draws so far.
    spin: usize,
}

impl Snapshot {
    /// The share done, 0 to 1 (capped), if the size is known.
    fn fraction(&self) -> Option<f64> {
        self.total.map(|t| {
            if t == 0 {
                1.0
            } else {
                (self.bytes as f64 / t as f64).min(1.0)
            }
        })
    }

    /// The percentage done, if the size is known (above 100 if `--size`
    /// was too small).
    fn percent(&self) -> Option<u64> {
        self.total.map(|t| match t {
            0 => 100,
            t => (self.bytes as u128 * 100 / t as u128) as u64,
        })
    }

    /// Seconds left at the current rate (or the average one), if the size
    /// is known, the transfer not over and the rate measurable.
    fn eta(&self) -> Option<f64> {
        let left = self.total?.checked_sub(self.bytes).filter(|&l| l > 0)?;
        let rate = self.rate_now.or(self.rate_avg).filter(|&r| r > 0.0)?;
        Some(left as f64 / rate)
    }

    /// The buffer's fill, percent of the mark.
    fn buffer_percent(&self) -> usize {
        // A mark of 0: anything buffered is over it.
        let over_zero = if self.buffered == 0 { 0 } else { 100 };
        (self.buffered.saturating_mul(100))
            .checked_div(self.mark)
            .unwrap_or(over_zero)
    }
}

/// The fields of the live line, in display order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Spinner,
    Bytes,
    Elapsed,
    Now,
    Average,
    Bar,
    Percent,
    Eta,
    Buffer,
}

/// One field of the live line.
enum Field {
    /// Text, in forms from the longest to the shortest (none: not shown).
    Text(Vec<String>),
    /// A bar this far (0 to 1) along, as wide as the room left.
    Bar(f64),
}

impl Field {
    /// How many forms it has (dropping it is one step past the last).
    fn forms(&self) -> usize {
        match self {
            Field::Text(forms) => forms.len(),
            Field::Bar(_) => 1,
        }
    }

    /// Its width in `form` (the bar at its narrowest).
    fn width(&self, form: usize) -> usize {
        match self {
            Field::Text(forms) => forms.get(form).map_or(0, |s| s.chars().count()),
            Field::Bar(_) => MIN_BAR,
        }
    }
}

/// Which field gives way first when the line is too wide, with a size:
/// each step shortens a field to its next form, or drops it after its last.
const SHRINK_KNOWN: [Key; 8] = [
    Key::Buffer,
    Key::Bytes,
    Key::Average,
    Key::Bar,
    Key::Buffer,
    Key::Elapsed,
    Key::Now,
    Key::Eta,
];

/// Which field gives way first without a size.
const SHRINK_UNKNOWN: [Key; 6] = [
    Key::Buffer,
    Key::Average,
    Key::Buffer,
    Key::Elapsed,
    Key::Now,
    Key::Spinner,
];

/// The live line for `s`, at most `width - 1` columns wide (the last
/// column stays free, so the terminal never wraps the line).
fn live_line(s: &Snapshot, width: usize) -> String {
    let bytes = format!("{:>8}", human(s.bytes));
    let mut fields: Vec<(Key, Field)> = Vec::new();
    let mut text = |key, forms: Vec<String>| fields.push((key, Field::Text(forms)));
    match s.total {
        None => {
            text(
                Key::Spinner,
                vec![SPINNER[s.spin % SPINNER.len()].to_string()],
            );
            text(Key::Bytes, vec![bytes]);
        }
        Some(total) => text(Key::Bytes, vec![format!("{bytes}/{}", human(total)), bytes]),
    }
    text(Key::Elapsed, vec![clock(s.elapsed)]);
    let now = s.rate_now.map(|r| format!("{:>10}", rate(r)));
    text(Key::Now, now.into_iter().collect());
    let avg = s.rate_avg.map(|r| format!("(avg {})", rate(r)));
    text(Key::Average, avg.into_iter().collect());
    if let (Some(f), Some(p)) = (s.fraction(), s.percent()) {
        fields.push((Key::Bar, Field::Bar(f)));
        fields.push((Key::Percent, Field::Text(vec![format!("{p:>3}%")])));
        let eta = s.eta().map(|e| format!("eta {}", clock(e.ceil())));
        fields.push((Key::Eta, Field::Text(eta.into_iter().collect())));
    }
    fields.push((
        Key::Buffer,
        Field::Text(vec![
            format!(
                "buf {:>8}/{}",
                human(s.buffered as u64),
                human(s.mark as u64)
            ),
            format!("buf {:>3}%", s.buffer_percent()),
        ]),
    ));
    let shrink: &[Key] = if s.total.is_some() {
        &SHRINK_KNOWN
    } else {
        &SHRINK_UNKNOWN
    };
    fit(&fields, shrink, width.saturating_sub(1))
}

/// Lays `fields` out on one line of at most `budget` columns: shortens or
/// drops them in the order of `shrink` until they fit, gives the bar the
/// room left, and cuts what still does not fit.
fn fit(fields: &[(Key, Field)], shrink: &[Key], budget: usize) -> String {
    // The form each field is shown in; `forms()` means dropped.
    let mut form = vec![0; fields.len()];
    let used = |form: &[usize]| -> usize {
        let shown: Vec<usize> = fields
            .iter()
            .zip(form)
            .filter(|((_, f), &i)| i < f.forms())
            .map(|((_, f), &i)| f.width(i))
            .collect();
        shown.iter().sum::<usize>() + shown.len().saturating_sub(1)
    };
    for key in shrink {
        if used(&form) <= budget {
            break;
        }
        if let Some(i) = fields.iter().position(|(k, _)| k == key) {
            form[i] = (form[i] + 1).min(fields[i].1.forms());
        }
    }
    let room = budget.saturating_sub(used(&form));
    let parts: Vec<String> = fields
        .iter()
        .zip(&form)
        .filter(|((_, f), &i)| i < f.forms())
        .map(|((_, f), &i)| match f {
            Field::Text(forms) => forms[i].clone(),
            Field::Bar(fraction) => bar(*fraction, MIN_BAR + room),
        })
        .collect();
    parts.join(" ").chars().take(budget).collect()
}

/// A bar `width` columns wide (brackets included), `fraction` (0 to 1) full:
/// `[=====>    ]`.
fn bar(fraction: f64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let full = ((fraction.clamp(0.0, 1.0) * inner as f64) as usize).min(inner);
    let head = if full < inner { ">" } else { "" };
    let rest = inner - full - head.len();
    format!("[{}{head}{}]", "=".repeat(full), " ".repeat(rest))
}

/// A plain progress line for `s`: complete and self-contained.
fn plain_line(command: &str, s: &Snapshot) -> String {
    let mut parts = vec![match (s.total, s.percent()) {
        (Some(total), Some(p)) => format!("{} of {} ({p}%)", human(s.bytes), human(total)),
        _ => human(s.bytes),
    }];
    parts.push(duration(s.elapsed));
    if let Some(r) = s.rate_now {
        parts.push(format!("{} now", rate(r)));
    }
    if let Some(r) = s.rate_avg {
        parts.push(format!("{} average", rate(r)));
    }
    if let Some(e) = s.eta() {
        parts.push(format!("eta {}", countdown(e)));
    }
    parts.push(format!(
        "buffer {} / {}",
        human(s.buffered as u64),
        human(s.mark as u64)
    ));
    format!("highwater {command}: {}", parts.join(", "))
}

/// How a transfer ended, as the final line tells it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ended {
    /// Everything was transferred.
    Done,
    /// An error stopped it (the caller prints the error next).
    Failed,
    /// SIGINT or SIGTERM stopped it.
    Interrupted,
    /// The reader of standard output went away.
    OutputClosed,
}

impl Ended {
    /// How `outcome` ended.
    fn of(outcome: &Result<(), CliError>) -> Ended {
        match outcome {
            Ok(()) => Ended::Done,
            Err(CliError::Interrupted) => Ended::Interrupted,
            Err(CliError::BrokenPipe) => Ended::OutputClosed,
            Err(CliError::Usage(_) | CliError::Failed(_)) => Ended::Failed,
        }
    }

    /// The word the final line starts with.
    fn word(self) -> &'static str {
        match self {
            Ended::Done => "done",
            Ended::Failed => "failed",
            Ended::Interrupted => "interrupted",
            Ended::OutputClosed => "output closed",
        }
    }
}

/// The totals of a finished transfer.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    ended: Ended,
    bytes: u64,
    total: Option<u64>,
    seconds: f64,
}

/// The final line: how the transfer ended, the bytes, the time and the
/// average rate. With a `width` (a terminal), the longest form that fits
/// in `width - 1` columns.
fn final_line(command: &str, s: &Summary, width: Option<usize>) -> String {
    let amount = match (s.ended, s.total) {
        (Ended::Done, _) | (_, None) => human(s.bytes),
        (_, Some(total)) => {
            let p = if total == 0 {
                100
            } else {
                s.bytes as u128 * 100 / total as u128
            };
            format!("{} of {} ({p}%)", human(s.bytes), human(total))
        }
    };
    let joint = if s.ended == Ended::Done {
        ","
    } else {
        " after"
    };
    let time = duration(s.seconds);
    let avg = average(s.bytes, s.seconds)
        .map(|r| format!(", {} average", rate(r)))
        .unwrap_or_default();
    let word = s.ended.word();
    let long = format!("highwater {command}: {word}{joint} {amount} in {time}{avg}");
    let Some(width) = width else {
        return long;
    };
    let forms = [
        long,
        format!("{command}: {word}{joint} {amount} in {time}{avg}"),
        format!("{word}: {} in {time}{avg}", human(s.bytes)),
        format!("{word}: {} in {time}", human(s.bytes)),
    ];
    let budget = width.saturating_sub(1);
    let fitting = forms.iter().find(|f| f.chars().count() <= budget);
    match fitting {
        Some(f) => f.clone(),
        None => forms[forms.len() - 1].chars().take(budget).collect(),
    }
}

/// A rate: `12.5 MiB/s`.
fn rate(bytes_per_second: f64) -> String {
    format!("{}/s", human(bytes_per_second.max(0.0).round() as u64))
}

/// A time for the live line, as a clock: `0:07`, `12:05`, `1:02:03`.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A time for plain lines: `0.4 s`, `42 s`, `12 min 05 s`, `1 h 02 min`.
fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 10.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min {s:02} s"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

/// A time left for plain lines, in whole seconds rounded up: `3 s`,
/// `12 min 05 s`.
fn countdown(seconds: f64) -> String {
    let whole = seconds.max(0.0).ceil();
    if whole < 60.0 {
        format!("{whole} s")
    } else {
        duration(whole)
    }
}

/// The width of the terminal on stderr (asked of the terminal through
/// `console`, the terminal layer indicatif is built on), then `$COLUMNS`,
/// then 80.
fn terminal_width() -> usize {
    console::Term::stderr()
        .size_checked()
        .map(|(_rows, cols)| usize::from(cols))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|&w| w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;

    /// Halfway through a 512 MiB copy, 2 s in.
    fn known() -> Snapshot {
        Snapshot {
            bytes: 256 * MIB,
            total: Some(512 * MIB),
            elapsed: 2.0,
            rate_now: Some(128.0 * MIB as f64),
            rate_avg: Some(120.0 * MIB as f64),
            buffered: 192 * KIB as usize,
            mark: 256 * KIB as usize,
            spin: 0,
        }
    }

    /// The same, from a pipe of unknown size.
    fn unknown() -> Snapshot {
        Snapshot {
            total: None,
            ..known()
        }
    }

    fn cols(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn a_wide_terminal_shows_every_field() {
        let line = live_line(&known(), 200);
        for part in [
            "256 MiB/512 MiB",
            "0:02",
            "128 MiB/s",
            "(avg 120 MiB/s)",
            "[",
            " 50%",
            "eta 0:02",
            "buf  192 KiB/256 KiB",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line:?}");
        }
        assert_eq!(cols(&line), 199, "the bar fills the line: {line:?}");
    }

    #[test]
    fn eighty_columns_keep_every_measure_in_shorter_forms() {
        let line = live_line(&known(), 80);
        assert!(cols(&line) <= 79, "{line:?}");
        for part in [
            "256 MiB",
            "0:02",
            "128 MiB/s",
            "avg 120 MiB/s",
            "[",
            "50%",
            "eta 0:02",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line:?}");
        }
        assert!(line.contains("buf  75%"), "the buffer as a share: {line:?}");
        assert!(!line.contains("/512 MiB"), "the total gives way: {line:?}");
    }

    #[test]
    fn forty_columns_keep_the_essentials() {
        let line = live_line(&known(), 40);
        assert!(cols(&line) <= 39, "{line:?}");
        for part in ["256 MiB", "128 MiB/s", "50%", "eta 0:02"] {
            assert!(line.contains(part), "{part:?} missing in {line:?}");
        }
        assert!(!line.contains('['), "no room for a bar: {line:?}");
        assert!(!line.contains("avg"), "{line:?}");
    }

    #[test]
    fn no_width_is_too_narrow() {
        for s in [known(), unknown()] {
            for w in 0..220 {
                let line = live_line(&s, w);
                assert!(cols(&line) < w.max(1), "{w} columns: {line:?}");
            }
        }
    }

    #[test]
    fn an_unknown_size_shows_a_spinner_and_no_eta_nor_percentage() {
        for w in [40, 80, 200] {
            let line = live_line(&unknown(), w);
            assert!(!line.contains("eta"), "{line:?}");
            assert!(!line.contains('%') || line.contains("buf"), "{line:?}");
            assert!(!line.contains('['), "{line:?}");
            assert!(line.starts_with('|'), "{line:?}");
        }
        let line = live_line(&unknown(), 80);
        for part in [
            "256 MiB",
            "0:02",
            "128 MiB/s",
            "avg 120 MiB/s",
            "192 KiB/256 KiB",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line:?}");
        }
        let turned = live_line(
            &Snapshot {
                spin: 1,
                ..unknown()
            },
            80,
        );
        assert!(turned.starts_with('/'), "the spinner turns: {turned:?}");
    }

    #[test]
    fn unmeasured_rates_and_eta_are_left_out() {
        let start = Snapshot {
            bytes: 0,
            elapsed: 0.0,
            rate_now: None,
            rate_avg: None,
            ..known()
        };
        let line = live_line(&start, 200);
        assert!(!line.contains("/s"), "{line:?}");
        assert!(!line.contains("eta"), "{line:?}");
        assert!(line.contains("  0%"), "{line:?}");
    }

    #[test]
    fn bars_fill_with_the_fraction() {
        assert_eq!(bar(0.0, 12), "[>         ]");
        assert_eq!(bar(0.5, 12), "[=====>    ]");
        assert_eq!(bar(1.0, 12), "[==========]");
        assert_eq!(bar(2.0, 6), "[====]");
    }

    #[test]
    fn plain_lines_say_everything_in_words() {
        assert_eq!(
            plain_line("copy", &known()),
            "highwater copy: 256 MiB of 512 MiB (50%), 2.0 s, 128 MiB/s now, \
             120 MiB/s average, eta 2 s, buffer 192 KiB / 256 KiB"
        );
        assert_eq!(
            plain_line("pipe", &unknown()),
            "highwater pipe: 256 MiB, 2.0 s, 128 MiB/s now, 120 MiB/s average, \
             buffer 192 KiB / 256 KiB"
        );
    }

    #[test]
    fn final_lines_tell_how_it_ended() {
        let done = Summary {
            ended: Ended::Done,
            bytes: 512 * MIB,
            total: Some(512 * MIB),
            seconds: 4.0,
        };
        assert_eq!(
            final_line("copy", &done, None),
            "highwater copy: done, 512 MiB in 4.0 s, 128 MiB/s average"
        );
        let cut = Summary {
            ended: Ended::Interrupted,
            bytes: 128 * MIB,
            ..done.clone()
        };
        assert_eq!(
            final_line("copy", &cut, None),
            "highwater copy: interrupted after 128 MiB of 512 MiB (25%) in 4.0 s, \
             32 MiB/s average"
        );
        let failed = Summary {
            ended: Ended::Failed,
            total: None,
            ..cut
        };
        assert_eq!(
            final_line("recv", &failed, Some(80)),
            "highwater recv: failed after 128 MiB in 4.0 s, 32 MiB/s average"
        );
        assert_eq!(
            final_line("recv", &failed, Some(40)),
            "failed: 128 MiB in 4.0 s"
        );
        assert!(cols(&final_line("copy", &done, Some(8))) <= 7);
    }

    #[test]
    fn outcomes_map_to_endings() {
        assert_eq!(Ended::of(&Ok(())), Ended::Done);
        assert_eq!(Ended::of(&Err(CliError::Interrupted)), Ended::Interrupted);
        assert_eq!(Ended::of(&Err(CliError::BrokenPipe)), Ended::OutputClosed);
        assert_eq!(Ended::of(&Err(CliError::Failed("x".into()))), Ended::Failed);
    }

    #[test]
    fn the_current_rate_follows_the_last_second() {
        let mut w = RateWindow::default();
        assert_eq!(w.rate(), None);
        // 1 MiB/s for 2 s, then 4 MiB/s for 2 s, sampled every 20 ms.
        let mut bytes = 0;
        for i in 1..=200 {
            bytes += if i <= 100 { MIB / 50 } else { 4 * MIB / 50 };
            w.push(i as f64 * 0.02, bytes);
        }
        let r = w.rate().expect("a rate");
        assert!((r - 4.0 * MIB as f64).abs() < 0.05 * MIB as f64, "{r}");
        assert!(w.points.len() <= 52, "the window stays small");
    }

    #[test]
    fn times_read_well() {
        assert_eq!(clock(7.9), "0:07");
        assert_eq!(clock(725.0), "12:05");
        assert_eq!(clock(3723.0), "1:02:03");
        assert_eq!(duration(0.42), "0.4 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(725.0), "12 min 05 s");
        assert_eq!(duration(3723.0), "1 h 02 min");
        assert_eq!(countdown(2.1), "3 s");
        assert_eq!(countdown(724.2), "12 min 05 s");
    }

    fn config() -> CopyConfig {
        CopyConfig {
            command: "pipe",
            chunk_size: 64 * 1024,
            high_water_mark: 256 * 1024,
            low_water_mark: None,
            max_memory: None,
            rate: None,
            read_rate: None,
            size: None,
            atomic: false,
            fsync: false,
            progress: true,
            progress_interval: std::time::Duration::from_millis(500),
            sample_every: std::time::Duration::from_millis(20),
        }
    }

    /// A sample every 20 ms for `seconds`, at 1 MiB/s; what was written.
    fn run(state: &mut State, seconds: f64) -> Vec<String> {
        let n = (seconds / 0.02).round() as u64;
        (0..=n)
            .filter_map(|i| {
                state.on_sample(&Sample {
                    t: i as f64 * 0.02,
                    buffered: 1000,
                    total_buffered: 1000,
                    paused: false,
                    bytes: i * MIB / 50,
                })
            })
            .collect()
    }

    #[test]
    fn the_live_line_redraws_five_times_a_second_in_place() {
        let mut state = State::new(&config(), None, Output::Live(Live::fixed(60)));
        let drawn = run(&mut state, 2.0);
        assert!((10..=11).contains(&drawn.len()), "{} draws", drawn.len());
        for d in &drawn {
            assert!(d.starts_with('\r') && d.ends_with(CLEAR_TO_EOL), "{d:?}");
            assert!(!d.contains('\n'), "{d:?}");
        }
        let last = state.on_finish(Ended::Done, 2 * MIB, 2.0);
        assert_eq!(
            last,
            "\rhighwater pipe: done, 2 MiB in 2.0 s, 1 MiB/s average\x1b[K\n"
        );
    }

    #[test]
    fn plain_lines_come_once_an_interval() {
        let mut state = State::new(&config(), Some(4 * MIB), Output::Plain(Plain::every(0.5)));
        let lines = run(&mut state, 2.0);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("highwater pipe: 512 KiB of 4 MiB (12%), 0.5 s"));
        assert!(lines
            .iter()
            .all(|l| l.ends_with('\n') && l.matches('\n').count() == 1));
        assert!(
            lines[3].contains("1 MiB/s now, 1 MiB/s average, eta 2 s"),
            "{lines:?}"
        );
    }
}
