//! A role's name.

use super::{ids, text, Invalid};

/// 1–255 characters, no `/` (it names the role in paths), not the shape of a role id.
pub fn parse_name(raw: &str) -> Result<String, Invalid> {
    let name = text::parse_label("name", raw)?;
    if name.contains('/') {
        return Err(Invalid::new(
            "name",
            "name must not contain '/': it names the role in URL paths",
        ));
    }
    if ids::looks_like_id('R', &name) {
        return Err(Invalid::new(
            "name",
            "name must not look like a role id (R followed by 16 letters or digits): paths would match it as an id",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_that_break_paths_are_refused() {
        assert_eq!(parse_name(" Finance ").unwrap(), "Finance");
        assert!(parse_name("HR/Payroll").is_err());
        assert!(parse_name("RKm2x3dfX0b505iHy").is_err());
    }
}
