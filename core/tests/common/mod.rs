//! Helpers shared by the integration tests of the `sqlsynth` crate.

use sqlsynth::plan::Literal;
use sqlsynth::SchemaPack;

/// Whether `question` states `literal`: its text, or, for a flag, the clause the pack's
/// "whether …" phrase of a boolean column reads as ("the bus is in service", "the
/// building is not heated").
///
/// Two literals are implied rather than written: the pack's default SRID (coordinates
/// without a label are in it) and the 100 of a percentage.
pub fn literal_stated(pack: &SchemaPack, question: &str, literal: &Literal) -> bool {
    if question.contains(&literal.text()) {
        return true;
    }
    // A geometry written as text (WKT, GeoJSON) is stated by its coordinates, a day as
    // people write it ("since 1 August 2024").
    if let Literal::Text(t) = literal {
        if sqlsynth::calendar::parse_day(t)
            .is_some_and(|d| question.contains(&sqlsynth::calendar::long_date(d)))
        {
            return true;
        }
        let t = t.trim();
        if t.starts_with("POINT(") || (t.starts_with('{') && t.contains("\"Point\"")) {
            let numbers: Vec<&str> = t
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .filter(|n| n.parse::<f64>().is_ok())
                .collect();
            return !numbers.is_empty() && numbers.iter().all(|n| question.contains(n));
        }
    }
    if let Literal::Number(n) = literal {
        if pack.data().default_srid.map(|s| s.to_string()).as_deref() == Some(n.as_str()) {
            return true;
        }
        if (n == "100" || n == "100.0") && (question.contains("percent") || question.contains('%'))
        {
            return true;
        }
    }
    let Literal::Bool(set) = literal else {
        return false;
    };
    pack.data()
        .lexicon
        .columns
        .values()
        .filter_map(|p| p.strip_prefix("whether "))
        .map(|c| match (set, c.split_once(" is ")) {
            (true, _) => c.to_string(),
            (false, Some((who, what))) => format!("{who} is not {what}"),
            (false, None) => format!("not {c}"),
        })
        .any(|c| question.contains(&c))
}
