//! Sizes and rates with units, as the options take them: `1MiB`, `16KiB`,
//! `512`, `2M`, `10MB/s`.
//!
//! Binary units (`KiB`, `MiB`, `GiB`, and the short `K`, `M`, `G`) are
//! powers of 1024; decimal ones (`KB`, `MB`, `GB`) powers of 1000; `B` or no
//! unit is bytes.

/// Parses a size. Errors say what was wrong, for clap to print.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "'{s}' is not a size (expected a number, e.g. 16KiB, 1MiB, 4096)"
        ));
    }
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "K" | "k" | "KiB" | "kib" | "Ki" => 1 << 10,
        "M" | "m" | "MiB" | "mib" | "Mi" => 1 << 20,
        "G" | "g" | "GiB" | "gib" | "Gi" => 1 << 30,
        "KB" | "kB" | "kb" => 1_000,
        "MB" | "mb" => 1_000_000,
        "GB" | "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "'{s}': unknown unit '{other}' (use B, KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (expected a number, e.g. 16KiB, 1MiB, 4096)"))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("'{s}' is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a size that must be at least 1 and fit in memory as a buffer.
pub fn parse_buffer_size(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n == 0 {
        return Err(format!("'{s}': must be at least 1 byte"));
    }
    if n > 1 << 40 {
        return Err(format!("'{s}' is too large for a buffer"));
    }
    usize::try_from(n).map_err(|_| format!("'{s}' is too large for this machine"))
}

/// Parses a read size: at least 1 byte, at most Node's largest Buffer (4 GiB,
/// what the library's file streams accept).
pub fn parse_chunk_size(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n == 0 {
        return Err(format!("'{s}': must be at least 1 byte"));
    }
    if n > crate::options::MAX_CHUNK as u64 {
        return Err(format!("'{s}' is too large: a read is at most 4 GiB"));
    }
    usize::try_from(n).map_err(|_| format!("'{s}' is too large for this machine"))
}

/// A low-water mark: bytes, or a share of the high-water mark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LowMark {
    /// This many bytes.
    Bytes(usize),
    /// This percentage of the high-water mark (0 to 100).
    Percent(f64),
}

/// Parses `50%` or a size.
pub fn parse_low_mark(s: &str) -> Result<LowMark, String> {
    if let Some(p) = s.trim().strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a percentage (e.g. 50%)"))?;
        if !(0.0..100.0).contains(&v) {
            return Err(format!("'{s}': a low-water mark is from 0% to below 100%"));
        }
        return Ok(LowMark::Percent(v));
    }
    parse_mark(s).map(LowMark::Bytes)
}

/// Parses a number of seconds (`1`, `0.5`, `2s`), at least 0.02 (the
/// engine samples every 20 ms).
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let t = t.strip_suffix('s').unwrap_or(t);
    let v: f64 = t
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds (e.g. 1, 0.5)"))?;
    // Not below the engine's sampling period: no line could come faster.
    if !v.is_finite() || !(0.02..=86_400.0).contains(&v) {
        return Err(format!("'{s}': from 0.02 to 86400 seconds"));
    }
    Ok(std::time::Duration::from_secs_f64(v))
}

/// Parses a mark: a size, where 0 is allowed (every write then waits).
pub fn parse_mark(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n > 1 << 40 {
        return Err(format!("'{s}' is too large for a buffer"));
    }
    usize::try_from(n).map_err(|_| format!("'{s}' is too large for this machine"))
}

/// Parses a rate in bytes per second: a size, optionally followed by `/s`.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let n = parse_size(t)?;
    if n == 0 {
        return Err(format!("'{s}': a rate must be at least 1 byte per second"));
    }
    Ok(n)
}

/// `1536` → `1.5 KiB`, for people.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v >= 100.0 || (v - v.round()).abs() < 0.05 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("16KiB"), Ok(16384));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1.5M"), Ok(1_572_864));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_rate("10MiB/s"), Ok(10 << 20));
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        assert!(parse_size("12XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("-5").unwrap_err().contains("not a size"));
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999999GiB")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_buffer_size("0").unwrap_err().contains("at least 1"));
        assert!(parse_rate("0/s").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(16384), "16 KiB");
        assert_eq!(human(1536), "1.5 KiB");
    }
}
