//! A person's arguments: name, email and username.

use super::{ids, text, Invalid};

pub fn parse_name(raw: &str) -> Result<String, Invalid> {
    text::parse_label("name", raw)
}

/// An email: one `@` between a non-empty local part and domain, no white space. Kept as typed;
/// compared ignoring case.
pub fn parse_email(raw: &str) -> Result<String, Invalid> {
    let email = text::parse_label("email", raw)?;
    let invalid = || {
        Invalid::new(
            "email",
            format!("email {email:?} is not an email address: write it as name@example.com"),
        )
    };
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || email.chars().any(char::is_whitespace)
    {
        return Err(invalid());
    }
    Ok(email)
}

/// A username: no `/` (it names the person in paths), no `@` (an email names them too), no
/// white space, and not the shape of a person id (ids are matched first).
pub fn parse_username(raw: &str) -> Result<String, Invalid> {
    let username = text::parse_label("username", raw)?;
    if let Some(c) = username
        .chars()
        .find(|c| *c == '/' || *c == '@' || c.is_whitespace())
    {
        return Err(Invalid::new(
            "username",
            format!("username must not contain {c:?}: it names the person in URL paths, beside ids and emails"),
        ));
    }
    if ids::looks_like_id('P', &username) {
        return Err(Invalid::new(
            "username",
            "username must not look like a person id (P followed by 16 letters or digits): paths would match it as an id",
        ));
    }
    Ok(username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_between_two_parts() {
        assert_eq!(parse_email(" Ann@Example.com ").unwrap(), "Ann@Example.com");
        for bad in ["ann", "@x.io", "ann@", "a@b@c", "a b@c.io", ""] {
            assert_eq!(parse_email(bad).unwrap_err().argument, "email", "{bad}");
        }
    }

    #[test]
    fn usernames_that_break_paths_are_refused() {
        assert_eq!(parse_username(" ann.lee ").unwrap(), "ann.lee");
        for bad in ["a/b", "a@b", "a b", "P0cKFCMIHoNaBFt7Y", ""] {
            assert_eq!(
                parse_username(bad).unwrap_err().argument,
                "username",
                "{bad}"
            );
        }
    }
}
