//! Durations as people write them in config files: `30s`, `5m`, `1h30m`, `2d`, `1w`.
//!
//! ```
//! use std::time::Duration;
//! assert_eq!(reel_common::duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
//! assert_eq!(reel_common::duration::format(Duration::from_secs(5400)), "1h30m");
//! assert!(reel_common::duration::parse("soon").is_err());
//! ```
use std::time::Duration;

/// Parses `<number><unit>` pieces (units `ms`, `s`, `m`, `h`, `d`, `w`), e.g. `90s`, `1h30m`.
/// A bare number is refused: the unit is too easy to guess wrong.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = |why: &str| format!("bad duration {text:?}: {why}; write e.g. 30s, 5m, 1h30m, 2d");
    if t.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad("the number is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        let ms: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(bad("a number needs a unit (ms, s, m, h, d, w)")),
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        total = total.checked_add(n.checked_mul(ms).ok_or_else(|| bad("too large"))?).ok_or_else(|| bad("too large"))?;
        rest = &rest[unit_len..];
    }
    let ms = u64::try_from(total).map_err(|_| bad("too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Formats a duration the way [`parse`] reads it, with the largest units first.
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse("1w2d").unwrap(), Duration::from_secs(9 * 86_400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse(" 5m ").unwrap(), Duration::from_secs(300));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for bad in ["", "5", "m", "5 m", "5x", "-5s", "99999999999999999999999w"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("30s"), "{bad}: {e}");
        }
    }

    #[test]
    fn format_round_trips() {
        for s in ["1s", "1h30m", "2d", "1d1h1m1s1ms", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
