//! Names and other short human text: 1–255 characters after trimming, no control characters.

use super::Invalid;

pub const MAX_CHARS: usize = 255;

/// Trims `raw` and checks it as the argument `argument`.
pub fn parse_label(argument: &'static str, raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(
            argument,
            format!("{argument} must not be empty"),
        ));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_CHARS {
        return Err(Invalid::new(
            argument,
            format!("{argument} is {chars} characters long; the limit is {MAX_CHARS}"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(
            argument,
            format!("{argument} must not contain control characters (tabs, newlines, ...)"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(parse_label("name", "  Ledger ").unwrap(), "Ledger");
        assert_eq!(
            parse_label("name", &"é".repeat(255))
                .unwrap()
                .chars()
                .count(),
            255
        );
        for bad in ["", "   ", "a\nb", "tab\there", &"x".repeat(256)] {
            let err = parse_label("name", bad).unwrap_err();
            assert_eq!(err.argument, "name");
            assert!(err.message.starts_with("name "), "{}", err.message);
        }
    }
}
