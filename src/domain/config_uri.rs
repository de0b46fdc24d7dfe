//! A configUri as it arrives: in the contract's form, or in one of the forms admins paste from
//! elsewhere ([`jackal_drivers::uri_forms`]), with a note for each change made to it.

use jackal_drivers::uri_forms;
pub use jackal_drivers::uri_forms::Normalized;
use jackal_drivers::UriError;

/// What is said when a `+` may have become a space on the way in. It names no password.
pub const PLUS_BECAME_SPACE: &str = "the password holds a space, and the form-encoded configUri \
    held a '+', which a form value reads as a space: if the password has a '+', send configUri \
    with curl --data-urlencode (or write the '+' as %2B)";

/// `raw` parsed and normalized. `plus_became_space`: it came as a form value whose text held a
/// `+`, which form decoding turned into a space; a password holding a space is then most likely
/// a password whose `+` it was, which is said in a note.
pub fn parse(raw: &str, plus_became_space: bool) -> Result<Normalized, UriError> {
    let mut normalized = uri_forms::parse(raw)?;
    let spaced = normalized
        .spec
        .password()
        .is_some_and(|password| password.expose().contains(' '));
    if plus_became_space && spaced {
        normalized.notes.push(PLUS_BECAME_SPACE.to_owned());
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_in_the_password_of_a_form_value_with_a_plus_is_noted() {
        let noted = parse("postgresql://u:a b@h/db", true).unwrap();
        assert_eq!(noted.notes, [PLUS_BECAME_SPACE]);
        assert!(!PLUS_BECAME_SPACE.contains("a b"));
        // Sent as JSON, or percent-encoded, a space is what was meant.
        assert!(parse("postgresql://u:a b@h/db", false)
            .unwrap()
            .notes
            .is_empty());
        // A '+' elsewhere, and no space in the password: nothing to say.
        assert!(parse("postgresql://u:ab@h/db", true)
            .unwrap()
            .notes
            .is_empty());
    }
}
