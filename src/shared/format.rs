//! Formatting shared by server and browser, so hydrated text matches the server's.

/// "2026-11-21 06:51 UTC" from Unix milliseconds.
pub fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// "2026-11-21" from Unix milliseconds.
pub fn utc_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(1000).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix milliseconds at the start (00:00 UTC) of a `YYYY-MM-DD` date.
pub fn parse_utc_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Refuse dates that do not exist (2027-02-30).
    (civil_from_days(days) == (y, m, d)).then_some(days * 86_400_000)
}

/// `YYYY-MM-DDTHH:MM:SSZ` from Unix milliseconds.
pub fn utc_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", utc_date(ms), secs / 3600, secs / 60 % 60, secs % 60)
}

/// Text made safe to place in XML or HTML, in content or a double-quoted attribute.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A model's name made from its endpoint id, for a model the catalog does not name:
/// the owner (and OpenRouter's prefix) left out, words capitalised, versions kept as
/// written (`fal-ai/some-new-model/v2` → `Some New Model v2`).
pub fn model_name(endpoint_id: &str) -> String {
    let mut parts: Vec<&str> = endpoint_id.split('/').filter(|p| !p.is_empty()).collect();
    let skip = if parts.first() == Some(&"openrouter") { 2 } else { 1 };
    if parts.len() > skip {
        parts.drain(..skip);
    }
    let words: Vec<String> = parts
        .iter()
        .flat_map(|p| p.split(['-', '_']))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let version = w.starts_with('v') && w[1..].starts_with(|c: char| c.is_ascii_digit());
            let mut chars = w.chars();
            match chars.next() {
                Some(first) if !version => first.to_uppercase().chain(chars).collect(),
                _ => w.to_string(),
            }
        })
        .collect();
    if words.is_empty() { endpoint_id.to_string() } else { words.join(" ") }
}

/// What a call did, in words (`generateImage` → "Image generation"); `unit` tells a
/// video from other work for the catch-all `run`.
pub fn operation_label(operation: &str, unit: &str) -> &'static str {
    match (operation, unit) {
        ("generateImage", _) => "Image generation",
        ("editImage", _) => "Image editing",
        ("removeBackground", _) => "Background removal",
        ("upscale", _) => "Upscaling",
        ("chat", _) => "Chat",
        ("run", "video" | "video_second") => "Video generation",
        _ => "Generation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates_and_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_795_330_260_000), "2026-11-22 06:51 UTC");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(-86_400_000), "1969-12-31");
        assert_eq!(parse_utc_date("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(parse_utc_date("2000-02-29").map(utc_date).as_deref(), Some("2000-02-29"));
        assert_eq!(parse_utc_date("2027-02-30"), None);
        assert_eq!(parse_utc_date("2027-13-01"), None);
        assert_eq!(parse_utc_date("tomorrow"), None);
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_767_225_600_000), "2026-01-01");
        assert_eq!(utc_timestamp(1_767_225_600_000 + 3_723_000), "2026-01-01T01:02:03Z");
        assert_eq!(parse_utc_date("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(parse_utc_date("2024-02-29").map(utc_date).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_utc_date("2026-02-29"), None, "not a leap year");
        assert_eq!(parse_utc_date("2026-13-01"), None);
        assert_eq!(parse_utc_date("yesterday"), None);
        for day in [0_i64, 10_957, 20_000, 2_932_896] {
            assert_eq!(parse_utc_date(&utc_date(day * 86_400_000)), Some(day * 86_400_000), "day {day}");
        }
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_xml(r#"<a href="x">Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
    }

    #[test]
    fn models_and_operations_read_as_words() {
        assert_eq!(model_name("fal-ai/flux/schnell"), "Flux Schnell");
        assert_eq!(model_name("fal-ai/some-new-model/v2"), "Some New Model v2");
        assert_eq!(model_name("openrouter/openai/gpt-4o-mini"), "Gpt 4o Mini");
        assert_eq!(model_name("a/b"), "B");
        assert_eq!(operation_label("generateImage", "image"), "Image generation");
        assert_eq!(operation_label("run", "video"), "Video generation");
        assert_eq!(operation_label("run", "request"), "Generation");
    }
}
