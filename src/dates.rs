//! Dates as leaks write them: ISO 8601, RFC 3339, RFC 2822 (mail), and US database exports
//! (`05/31/20 00:00:00`, `6/1/2020 3:04:05 PM`). Times without a zone are taken as written.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::Serialize;

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A document date, with a note of whether the source gave a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocDate {
    /// The moment, in the source's own (unknown) zone; UTC when the source gave a zone.
    pub datetime: NaiveDateTime,
    /// Whether the source gave a time of day, so it is worth showing.
    pub has_time: bool,
}

/// A date ready for templates.
#[derive(Debug, Clone, Serialize)]
pub struct DateView {
    /// `2020-05-31`
    pub iso: String,
    /// `31 May 2020`, or `31 May 2020, 14:30` when the source gave a time.
    pub display: String,
    /// `2020-05-31T14:30:00Z`, for feeds and `<time datetime>`.
    pub rfc3339: String,
    /// The year, for browse-by-year links.
    pub year: i32,
}

impl DocDate {
    /// Parses any of the formats leakpress accepts; `None` when the text is not a date.
    pub fn parse(text: &str) -> Option<DocDate> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(DocDate::with_time(dt.naive_utc()));
        }
        if let Ok(dt) = DateTime::parse_from_rfc2822(text) {
            return Some(DocDate::with_time(dt.naive_utc()));
        }
        const DATE_TIME_FORMATS: &[&str] = &[
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %I:%M %p",
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
        ];
        // `%Y` also takes `20` as the year 20; such text is a two-digit year, handled below.
        let plausible = |year: i32| year >= 1000;
        for format in DATE_TIME_FORMATS {
            if let Ok(dt) = NaiveDateTime::parse_from_str(text, format)
                && plausible(chrono::Datelike::year(&dt))
            {
                return Some(DocDate::with_time(dt));
            }
        }
        const DATE_FORMATS: &[&str] =
            &["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d %B %Y", "%B %d, %Y"];
        for format in DATE_FORMATS {
            if let Ok(date) = NaiveDate::parse_from_str(text, format)
                && plausible(chrono::Datelike::year(&date))
            {
                return Some(DocDate::day(date));
            }
        }
        // Two-digit years (`05/31/20 00:00:00`): chrono's %y maps 00–68 to 2000s, 69–99 to 1900s,
        // which suits records from database exports of the 1990s–2020s.
        const SHORT_YEAR_FORMATS: &[&str] = &[
            "%m/%d/%y %I:%M:%S %p",
            "%m/%d/%y %I:%M %p",
            "%m/%d/%y %H:%M:%S",
            "%m/%d/%y %H:%M",
        ];
        for format in SHORT_YEAR_FORMATS {
            if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
                return Some(DocDate::with_time(dt));
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%m/%d/%y") {
            return Some(DocDate::day(date));
        }
        None
    }

    /// A PDF's document-information date (`D:20200531143000-05'00'`, ISO 32000 7.9.4: the
    /// `D:` and everything after the day optional). `None` for less than a full day, as
    /// producers write a bare year or `D:` alone for "unknown", and for anything else.
    pub fn parse_pdf(text: &str) -> Option<DocDate> {
        let text = text.trim();
        let text = text.strip_prefix("D:").unwrap_or(text);
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if !(8..=14).contains(&digits) || digits % 2 != 0 {
            return None;
        }
        let (stamp, zone) = text.split_at(digits);
        let two = |at: usize| -> Option<u32> {
            match stamp.get(at..at + 2) {
                Some(field) => field.parse().ok(),
                None => Some(0),
            }
        };
        // As in [`DocDate::parse`]: a year before 1000 is a placeholder, not a date.
        let year: i32 = stamp[..4].parse().ok()?;
        if year < 1000 {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(year, two(4)?, two(6)?)?;
        if digits == 8 {
            return Some(DocDate::day(date));
        }
        let local = date.and_time(NaiveTime::from_hms_opt(two(8)?, two(10)?, two(12)?)?);
        // A zone (`Z`, or `+HH'mm'` with the minutes and apostrophes optional) makes it UTC,
        // as [`DocDate::parse`] does; without one, or with one that does not read, it is
        // taken as written.
        let offset_minutes = match zone.as_bytes().first() {
            Some(&sign @ (b'+' | b'-')) => {
                let digits: String = zone[1..].chars().filter(|&c| c != '\'').collect();
                let part = |at: usize| digits.get(at..at + 2).and_then(|p| p.parse::<i64>().ok());
                match (part(0), part(2).unwrap_or(0)) {
                    (Some(hours @ 0..=23), minutes @ 0..=59) => {
                        let minutes = hours * 60 + minutes;
                        if sign == b'-' { -minutes } else { minutes }
                    }
                    _ => 0,
                }
            }
            _ => 0,
        };
        Some(DocDate::with_time(
            local - chrono::Duration::minutes(offset_minutes),
        ))
    }

    /// A date-and-time; midnight exactly (as database exports write dates) counts as no time.
    fn with_time(datetime: NaiveDateTime) -> DocDate {
        let has_time = datetime.time() != NaiveTime::MIN;
        DocDate { datetime, has_time }
    }

    /// A calendar day with no time of day.
    pub fn day(date: NaiveDate) -> DocDate {
        DocDate {
            datetime: date.and_time(NaiveTime::MIN),
            has_time: false,
        }
    }

    /// The year.
    pub fn year(&self) -> i32 {
        chrono::Datelike::year(&self.datetime)
    }

    /// The forms templates need.
    /// Formatted directly rather than through `chrono`'s strftime, which parses its format
    /// string on every call: every page shows several dates, and a rebuild that renders few
    /// pages still makes the views of every listing's documents.
    pub fn view(&self) -> DateView {
        let d = self.datetime;
        let year = self.year_text();
        let (month, day) = (d.month(), d.day());
        let month_name = MONTH_NAMES[d.month0() as usize];
        let display = if self.has_time {
            format!(
                "{day} {month_name} {year}, {:02}:{:02}",
                d.hour(),
                d.minute()
            )
        } else {
            format!("{day} {month_name} {year}")
        };
        DateView {
            iso: format!("{year}-{month:02}-{day:02}"),
            display,
            rfc3339: format!(
                "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
                d.hour(),
                d.minute(),
                // chrono holds a leap second as second 59 with a nanosecond count past 10^9.
                d.second() + d.nanosecond() / 1_000_000_000
            ),
            year: self.year(),
        }
    }

    /// The view's `iso` alone (`2020-06-01`), for the search index's entry of every
    /// document, which needs nothing else of the view.
    pub fn iso(&self) -> String {
        let d = self.datetime;
        format!("{}-{:02}-{:02}", self.year_text(), d.month(), d.day())
    }

    /// The year as strftime's `%Y` writes it: four digits, else a sign and at least four.
    fn year_text(&self) -> String {
        match self.datetime.year() {
            y @ 0..=9999 => format!("{y:04}"),
            y => format!("{y:+05}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(text: &str) -> String {
        let date = DocDate::parse(text).unwrap_or_else(|| panic!("{text:?} did not parse"));
        date.datetime.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    #[test]
    fn views_read_as_strftime_writes_them() {
        // (year, month, day, hour, minute, second, milliseconds); 59 s and 1,500 ms is
        // chrono's leap second, which strftime writes as second 60.
        let dates = [
            (2020, 5, 31, 0, 0, 0, 0),
            (2020, 1, 2, 3, 4, 5, 0),
            (1999, 12, 9, 23, 59, 59, 0),
            (2016, 12, 31, 23, 59, 59, 1_500),
            (2020, 1, 2, 3, 4, 5, 999),
            (1, 2, 3, 4, 5, 6, 0),
            (0, 7, 15, 12, 0, 0, 0),
            (-44, 3, 15, 9, 30, 0, 0),
            (9999, 12, 31, 23, 59, 59, 0),
            (10000, 1, 1, 0, 0, 0, 0),
            (123_456, 6, 1, 1, 2, 3, 0),
        ];
        for (y, mo, d, h, mi, s, ms) in dates {
            let datetime = NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|date| date.and_hms_milli_opt(h, mi, s, ms))
                .expect("a valid date");
            for has_time in [false, true] {
                let date = DocDate { datetime, has_time };
                let view = date.view();
                assert_eq!(view.iso, datetime.format("%Y-%m-%d").to_string());
                assert_eq!(date.iso(), view.iso);
                assert_eq!(
                    view.rfc3339,
                    datetime.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                );
                let display = if has_time {
                    datetime.format("%-d %B %Y, %H:%M").to_string()
                } else {
                    datetime.format("%-d %B %Y").to_string()
                };
                assert_eq!(view.display, display);
            }
        }
    }

    #[test]
    fn parses_the_formats_leaks_use() {
        assert_eq!(iso("2020-05-31"), "2020-05-31 00:00:00");
        assert_eq!(iso("2020-06-01T14:30:00Z"), "2020-06-01 14:30:00");
        assert_eq!(iso("2020-06-01T14:30:00-05:00"), "2020-06-01 19:30:00");
        assert_eq!(iso("2020-06-01 14:30"), "2020-06-01 14:30:00");
        assert_eq!(iso("05/31/20 00:00:00"), "2020-05-31 00:00:00");
        assert_eq!(iso("6/1/2020 3:04:05 PM"), "2020-06-01 15:04:05");
        assert_eq!(iso("Mon, 1 Jun 2020 09:15:00 +0000"), "2020-06-01 09:15:00");
    }

    #[test]
    fn rejects_non_dates() {
        assert!(DocDate::parse("last Tuesday").is_none());
        assert!(DocDate::parse("2020-13-45").is_none());
        assert!(DocDate::parse("").is_none());
    }

    #[test]
    fn reads_pdf_dates() {
        let pdf = |text: &str| {
            DocDate::parse_pdf(text).map(|d| {
                let shown = d.datetime.format("%Y-%m-%d %H:%M:%S").to_string();
                (shown, d.has_time)
            })
        };
        let at = |shown: &str, has_time| Some((shown.to_owned(), has_time));
        assert_eq!(
            pdf("D:20200531143000-05'00'"),
            at("2020-05-31 19:30:00", true)
        );
        assert_eq!(
            pdf("D:20200531143000+0530"),
            at("2020-05-31 09:00:00", true)
        );
        assert_eq!(pdf("D:20200531143000+05'"), at("2020-05-31 09:30:00", true));
        // A zone that does not read is left out, as a missing one is.
        assert_eq!(
            pdf("D:20200531143000+99'00'"),
            at("2020-05-31 14:30:00", true)
        );
        assert_eq!(pdf("D:20200531143000Z"), at("2020-05-31 14:30:00", true));
        assert_eq!(pdf("20200531143000"), at("2020-05-31 14:30:00", true));
        assert_eq!(pdf("D:202005311430"), at("2020-05-31 14:30:00", true));
        assert_eq!(pdf("D:20200531"), at("2020-05-31 00:00:00", false));
        assert_eq!(pdf(" D:20200601000000 "), at("2020-06-01 00:00:00", false));
        // Less than a day, a month, hour or year out of range, an odd digit count, no date.
        for text in [
            "D:2020",
            "D:202005",
            "D:20201331",
            "D:00000101000000Z",
            "D:20200531250000",
            "D:202005311",
            "D:",
            "",
            "Sunday",
        ] {
            assert_eq!(pdf(text), None, "{text:?}");
        }
    }

    #[test]
    fn shows_time_only_when_given() {
        assert_eq!(
            DocDate::parse("2020-05-31").unwrap().view().display,
            "31 May 2020"
        );
        assert_eq!(
            DocDate::parse("2020-05-31 14:05").unwrap().view().display,
            "31 May 2020, 14:05"
        );
    }
}
