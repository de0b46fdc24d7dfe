//! The data source's own arguments: name, alias and description. The configUri lives in
//! `jackal_drivers`.

use super::{ids, text, Invalid};

pub fn parse_name(raw: &str) -> Result<String, Invalid> {
    text::parse_label("name", raw)
}

/// An alias, or `None` when the caller sent an empty one (which clears it).
pub fn parse_alias(raw: &str) -> Result<Option<String>, Invalid> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let alias = text::parse_label("alias", raw)?;
    if alias.contains('/') {
        return Err(Invalid::new(
            "alias",
            "alias must not contain '/': it names the data source in URL paths",
        ));
    }
    if ids::looks_like_id('D', &alias) {
        return Err(Invalid::new(
            "alias",
            "alias must not look like a data source id (D followed by 16 letters or digits): paths would match it as an id",
        ));
    }
    Ok(Some(alias))
}

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// A description: free text, trimmed; empty clears it. Line breaks and tabs are kept, other
/// control characters refused.
pub fn parse_description(raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Invalid::new(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(
            "description",
            "description must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_trimmed_bounded_and_printable() {
        assert_eq!(
            parse_description("  Ledger\nof record ").unwrap(),
            "Ledger\nof record"
        );
        assert_eq!(parse_description("").unwrap(), "");
        assert!(parse_description("a\u{0}b").is_err());
        assert!(parse_description(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
    }

    #[test]
    fn empty_alias_clears_it() {
        assert_eq!(parse_alias("").unwrap(), None);
        assert_eq!(parse_alias("  ").unwrap(), None);
        assert_eq!(
            parse_alias(" some-db ").unwrap().as_deref(),
            Some("some-db")
        );
    }

    #[test]
    fn aliases_that_break_paths_are_refused() {
        assert_eq!(parse_alias("a/b").unwrap_err().argument, "alias");
        assert_eq!(
            parse_alias("DUGC6IqGQ4DX00Lt0").unwrap_err().argument,
            "alias"
        );
    }
}
