//! Durations as workflows write them: `"500ms"`, `"30s"`, `"1h30m"`, `"2d"`.

use std::time::Duration;

/// The hint shown with every invalid duration.
pub const DURATION_HINT: &str = "use a number and a unit, like 500ms, 30s, 5m or 2h";

/// Parse one or more `<integer><unit>` parts (units `ms`, `s`, `m`, `h`, `d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration `{s}`");
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let (num, tail) = rest.split_at(digits);
        let letters = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(letters);
        let n: u64 = num.parse().map_err(|_| invalid())?;
        let millis_per = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(invalid()),
        };
        let part = n.checked_mul(millis_per).ok_or_else(invalid)?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(invalid)?;
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap()
    }

    #[test]
    fn single_units() {
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("0s"), Duration::ZERO);
    }

    #[test]
    fn compound() {
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1m500ms"), Duration::from_millis(60_500));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "5",
            "5 minutes",
            "m",
            "5x",
            "1.5s",
            "-1s",
            " 5s",
            "5s ",
            "5S",
            "5sec",
            "éé",
            "99999999999999999999s",
            "18446744073709551615d",
        ] {
            assert_eq!(
                parse_duration(bad),
                Err(format!("invalid duration `{bad}`")),
                "{bad:?}"
            );
        }
    }
}
