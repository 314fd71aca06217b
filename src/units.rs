//! Byte sizes as the container tools write and read them (docker/go-units), not as SI or IEC
//! crates do: go-units' `RAMInBytes` reads "512MB" as 512 × 1024² (BuildKit's and Docker's
//! configured limits), while its `HumanSize` prints and `FromHumanSize` reads decimal units
//! (`docker system df`, `buildctl du`). Mixing the two is how a 20 GB limit becomes 21.5 GB.

/// docker/go-units RAMInBytes: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`, powers of 1024.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(num_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(format!("invalid size {s:?}"));
    }
    let value: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mut unit = rest.strip_prefix(' ').unwrap_or(rest).chars().peekable();
    let power = match unit.peek().map(|c| c.to_ascii_lowercase()) {
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        _ => 0,
    };
    if power > 0 {
        unit.next();
    }
    let tail: String = unit.collect::<String>().to_ascii_lowercase();
    if !matches!(tail.as_str(), "" | "b" | "i" | "ib") {
        return Err(format!("invalid size {s:?}"));
    }
    let bytes = value * 1024f64.powi(power);
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(format!("size {s:?} is too large"));
    }
    Ok(bytes as i64)
}

/// go-units FromHumanSize: decimal units ("1.653GB" = 1.653 × 10⁹), as `du` prints them.
pub fn human_size(s: &str) -> Option<i64> {
    let t = s.trim().trim_end_matches('*');
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..end].parse().ok()?;
    let mult = match t[end..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1e0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        _ => return None,
    };
    Some((n * mult) as i64)
}

/// Bytes in BuildKit's own binary units, for showing a configured limit as BuildKit reads it.
pub fn human_binary(b: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// Bytes in decimal units, as `docker system df` and `buildctl du` print them.
pub fn human_decimal(b: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = b as f64;
    let mut i = 0;
    while v.abs() >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.3} {}", units[i]).replace(".000 ", " ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_in_bytes_is_binary_like_go_units() {
        assert_eq!(ram_in_bytes("512MB"), Ok(512 << 20));
        assert_eq!(ram_in_bytes("20GB"), Ok(20 << 30));
        assert_eq!(ram_in_bytes("20gb"), Ok(20 << 30));
        assert_eq!(ram_in_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(ram_in_bytes("10 k"), Ok(10 << 10));
        assert_eq!(ram_in_bytes("9000"), Ok(9000));
        assert_eq!(ram_in_bytes("7b"), Ok(7));
        for bad in [
            "12XB",
            "-5GB",
            "",
            "GB",
            "1..5GB",
            ".5GB",
            "5GBs",
            "99999999999999999999PB",
        ] {
            assert!(ram_in_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_sizes_are_decimal() {
        assert_eq!(human_size("1.653GB"), Some(1_653_000_000));
        assert_eq!(human_size("8.224kB*"), Some(8224));
        assert_eq!(human_size("318MB"), Some(318_000_000));
        assert_eq!(human_size("12XB"), None);
        assert_eq!(human_decimal(10_360_000_000), "10.360 GB");
        assert_eq!(human_binary(512 << 20), "512.0 MiB");
    }
}
