//! The buffering a transfer asked for, checked and completed before any
//! work: read size, marks, and the hard memory cap (`--max-memory`).
//!
//! # The memory bound
//!
//! Every byte a transfer holds is in one of its streams' buffers, and each
//! of those is bounded by its mark plus one chunk (a write is accepted while
//! the buffer is below the mark, and a chunk is at most one read). With `c`
//! the read size and `m` the write mark, the whole transfer holds less than:
//!
//! | stage | bound |
//! |---|---|
//! | the source's read buffer (mark `c`) | `2c` |
//! | `--read-rate` stage (both marks `c`) | `4c` |
//! | `--rate` stage (writable mark `m`, readable mark `min(c, m)`) | `m + 3c` |
//! | the destination's write buffer (mark `m`) | `m + c` |
//!
//! [`buffer_bound`] (the engine's, whose docs have the same table) adds
//! these up; `--max-memory` refuses settings whose bound is
//! over the cap and, where the read size or the mark were left to their
//! defaults, chooses them to fit.

use std::path::Path;

use highwater_transfer::buffer_bound;

use crate::size::{human, LowMark};

/// The read size when none is given (and no cap asks for less).
pub const DEFAULT_CHUNK: usize = 256 * 1024;
/// The write mark when none is given: four default reads.
pub const DEFAULT_MARK: usize = 1024 * 1024;
/// The largest read: Node's largest Buffer (`buffer.constants.MAX_LENGTH`),
/// beyond which the library's file streams fail with `ERR_OUT_OF_RANGE`.
pub const MAX_CHUNK: usize = 1 << 32;

/// What the command line asked for (`None`: not given).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Asked {
    /// `--chunk-size`.
    pub chunk_size: Option<usize>,
    /// `--high-water-mark`.
    pub high_water_mark: Option<usize>,
    /// `--low-water-mark`.
    pub low_water_mark: Option<LowMark>,
    /// `--max-memory`.
    pub max_memory: Option<usize>,
    /// `--rate`.
    pub rate: Option<u64>,
    /// `--read-rate`.
    pub read_rate: Option<u64>,
}

/// The settings a transfer runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Bytes per read.
    pub chunk_size: usize,
    /// The write mark.
    pub high_water_mark: usize,
    /// The level at which the reader resumes, if not 0.
    pub low_water_mark: Option<usize>,
    /// The most bytes the transfer can hold (see the module doc).
    pub bound: u128,
}

/// Completes and checks what was asked.
///
/// # Errors
///
/// A usage message: a cap too small for any transfer, or settings whose
/// bound is over the cap, or a low-water mark not below the high one.
pub fn plan(a: &Asked) -> Result<Plan, String> {
    let (rate, read_rate) = (a.rate.is_some(), a.read_rate.is_some());
    // The multiples of c and m in the bound.
    let cs: u128 = 3 + if read_rate { 4 } else { 0 } + if rate { 3 } else { 0 };
    let ms: u128 = 1 + u128::from(rate);
    let (chunk, mark) = match (a.max_memory, a.chunk_size, a.high_water_mark) {
        (None, c, m) => {
            let c = c.unwrap_or(match m {
                Some(m) if m > 0 => m.min(DEFAULT_CHUNK),
                _ => DEFAULT_CHUNK,
            });
            (c, m.unwrap_or(DEFAULT_MARK.max(4 * c)))
        }
        (Some(cap), None, None) => {
            // Reads of a sixteenth of the cap (256 KiB at most), the rest
            // for the mark.
            let cap = cap as u128;
            let c = round_down((cap / (16 * cs / 3)).min(DEFAULT_CHUNK as u128));
            let m = cap.saturating_sub(cs * c) / ms;
            // A whole number of reads.
            let m = m.checked_div(c).map_or(m, |k| k * c);
            if c == 0 || m < c {
                return Err(format!(
                    "--max-memory {} is too small for a transfer (at least {} with these options)",
                    human(cap as u64),
                    human((16 * cs / 3) as u64)
                ));
            }
            (c as usize, m as usize)
        }
        (Some(cap), Some(c), None) => {
            let m = (cap as u128).saturating_sub(cs * c as u128) / ms;
            let m = m / c as u128 * c as u128;
            if m < c as u128 {
                return Err(format!(
                    "--chunk-size {} leaves no room for a write buffer of at least one read within --max-memory {} (the transfer can hold {}× the read size plus {}× the mark; see --help)",
                    human(c as u64),
                    human(cap as u64),
                    cs,
                    ms
                ));
            }
            (c, m as usize)
        }
        (Some(cap), None, Some(m)) => {
            let room = (cap as u128).saturating_sub(ms * m as u128) / cs;
            let c = round_down(
                room.min(DEFAULT_CHUNK as u128)
                    // A read no larger than the mark (a mark of 0 sets no such limit).
                    .min(if m == 0 { DEFAULT_CHUNK } else { m } as u128),
            );
            if c == 0 {
                return Err(format!(
                    "--high-water-mark {} leaves no room for reads within --max-memory {}",
                    human(m as u64),
                    human(cap as u64)
                ));
            }
            (c as usize, m)
        }
        (Some(_), Some(c), Some(m)) => (c, m),
    };
    let bound = buffer_bound(chunk, mark, rate, read_rate);
    if let Some(cap) = a.max_memory {
        if bound > cap as u128 {
            return Err(format!(
                "reads of {} with a mark of {} can buffer up to {}, over --max-memory {}",
                human(chunk as u64),
                human(mark as u64),
                human(u64::try_from(bound).unwrap_or(u64::MAX)),
                human(cap as u64)
            ));
        }
    }
    let low = match a.low_water_mark {
        None => None,
        Some(_) if mark == 0 => {
            return Err(
                "--low-water-mark needs a high-water mark above 0 (with a mark of 0 every write waits for the buffer to empty)"
                    .into(),
            )
        }
        Some(LowMark::Bytes(b)) if b >= mark && mark > 0 => {
            return Err(format!(
                "--low-water-mark {} must be below the high-water mark ({})",
                human(b as u64),
                human(mark as u64)
            ))
        }
        Some(LowMark::Bytes(0)) => None,
        Some(LowMark::Bytes(b)) => Some(b),
        Some(LowMark::Percent(p)) => {
            let b = (mark as f64 * p / 100.0).floor() as usize;
            (b > 0).then_some(b.min(mark.saturating_sub(1)))
        }
    };
    Ok(Plan {
        chunk_size: chunk,
        high_water_mark: mark,
        low_water_mark: low,
        bound,
    })
}

/// The largest power of two not above `n` (0 for 0): reads of round sizes.
fn round_down(n: u128) -> u128 {
    if n == 0 {
        0
    } else {
        1 << (127 - n.leading_zeros())
    }
}

/// The plot can be written where it is asked for: its folder exists and it
/// is not a folder itself. Checked before the transfer, so that a long copy
/// does not end in a failure to save its plot.
///
/// # Errors
///
/// A usage message naming the path.
pub fn check_plot_path(p: &Path) -> Result<(), String> {
    if p.as_os_str().is_empty() {
        return Err("--plot needs a file name".into());
    }
    if p.is_dir() {
        return Err(format!("--plot '{}' is a directory", p.display()));
    }
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.permissions().readonly() {
                return Err(format!(
                    "--plot '{}': the folder '{}' is read-only",
                    p.display(),
                    dir.display()
                ));
            }
            Ok(())
        }
        Ok(_) => Err(format!(
            "--plot '{}': '{}' is not a folder",
            p.display(),
            dir.display()
        )),
        Err(_) => Err(format!(
            "--plot '{}': the folder '{}' does not exist",
            p.display(),
            dir.display()
        )),
    }
}

/// Whether the paths `a` and `b` name the same file: the same inode when
/// both exist (through links, hard links included), else the same place
/// once their folders are resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => false,
        (Err(_), Err(_)) => {
            let place = |p: &Path| {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                std::fs::canonicalize(dir)
                    .ok()
                    .map(|d| d.join(p.file_name().unwrap_or_default()))
            };
            matches!((place(a), place(b)), (Some(x), Some(y)) if x == y)
        }
    }
}

/// The plot must not overwrite what the transfer reads or writes.
///
/// # Errors
///
/// A usage message naming the clash.
pub fn check_plot_apart(plot: &Path, ends: &[(&str, &Path)]) -> Result<(), String> {
    for (role, p) in ends {
        if same_file(plot, p) {
            return Err(format!(
                "--plot '{}' is the {role} '{}': the plot would overwrite it",
                plot.display(),
                p.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_read_less_than_the_mark() {
        let p = plan(&Asked::default()).unwrap();
        assert_eq!(
            (p.chunk_size, p.high_water_mark),
            (DEFAULT_CHUNK, DEFAULT_MARK)
        );
        assert!(p.chunk_size <= p.high_water_mark);
        let p = plan(&Asked {
            high_water_mark: Some(16 * 1024),
            ..Asked::default()
        })
        .unwrap();
        assert_eq!(p.chunk_size, 16 * 1024, "reads follow a small mark");
        let p = plan(&Asked {
            chunk_size: Some(1 << 20),
            ..Asked::default()
        })
        .unwrap();
        assert_eq!(p.high_water_mark, 4 << 20, "the mark follows big reads");
    }

    #[test]
    fn a_cap_chooses_what_was_left_open_and_the_bound_holds() {
        for cap in [4096usize, 100_000, 1 << 20, 64 << 20, 1 << 30] {
            for (rate, read_rate) in [
                (None, None),
                (Some(1), None),
                (None, Some(1)),
                (Some(1), Some(1)),
            ] {
                let a = Asked {
                    max_memory: Some(cap),
                    rate,
                    read_rate,
                    ..Asked::default()
                };
                let p = plan(&a).unwrap();
                assert!(p.bound <= cap as u128, "{cap} {a:?} {p:?}");
                assert!(
                    p.chunk_size >= 1 && p.chunk_size <= p.high_water_mark,
                    "{p:?}"
                );
                for c in [Some(1024), None] {
                    for m in [Some(2048), None] {
                        let a = Asked {
                            chunk_size: c,
                            high_water_mark: m,
                            ..a
                        };
                        if let Ok(p) = plan(&a) {
                            assert!(p.bound <= cap as u128, "{a:?} {p:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_mark_of_0_under_a_cap_still_reads_whole_chunks() {
        let p = plan(&Asked {
            max_memory: Some(1 << 20),
            high_water_mark: Some(0),
            ..Asked::default()
        })
        .unwrap();
        assert_eq!(p.high_water_mark, 0);
        assert!(p.chunk_size >= 64 << 10, "{p:?}");
        assert!(p.bound <= 1 << 20);
    }

    #[test]
    fn a_cap_refuses_what_cannot_fit() {
        let e = plan(&Asked {
            max_memory: Some(1 << 20),
            chunk_size: Some(1 << 20),
            high_water_mark: Some(4 << 20),
            ..Asked::default()
        })
        .unwrap_err();
        assert!(e.contains("over --max-memory 1 MiB"), "{e}");
        assert!(plan(&Asked {
            max_memory: Some(10),
            ..Asked::default()
        })
        .unwrap_err()
        .contains("too small"));
        // The smallest cap the message names is accepted, one byte less is not.
        for (rate, read_rate) in [
            (None, None),
            (Some(1), None),
            (None, Some(1)),
            (Some(1), Some(1)),
        ] {
            let at = |cap| {
                plan(&Asked {
                    max_memory: Some(cap),
                    rate,
                    read_rate,
                    ..Asked::default()
                })
            };
            let e = at(1).unwrap_err();
            let least: usize = e
                .split("at least ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{e}"));
            assert!(at(least).is_ok(), "{least}: {e}");
            assert!(at(least - 1).is_err(), "{least}");
        }
    }

    #[test]
    fn low_water_marks() {
        let at = |l| {
            plan(&Asked {
                high_water_mark: Some(1000),
                chunk_size: Some(100),
                low_water_mark: Some(l),
                ..Asked::default()
            })
        };
        assert_eq!(
            at(LowMark::Percent(50.0)).unwrap().low_water_mark,
            Some(500)
        );
        assert_eq!(at(LowMark::Bytes(300)).unwrap().low_water_mark, Some(300));
        assert_eq!(at(LowMark::Bytes(0)).unwrap().low_water_mark, None);
        assert!(at(LowMark::Bytes(1000)).unwrap_err().contains("below"));
        let zero = plan(&Asked {
            high_water_mark: Some(0),
            low_water_mark: Some(LowMark::Bytes(1 << 20)),
            ..Asked::default()
        });
        assert!(zero.unwrap_err().contains("above 0"));
    }
}
