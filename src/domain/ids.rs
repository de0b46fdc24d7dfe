//! Object ids: a one-letter kind prefix and 16 base62 characters, as JackDB's ids look.

const BASE62: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I',
    'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b',
    'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u',
    'v', 'w', 'x', 'y', 'z',
];

const ID_BODY_LEN: usize = 16;

/// `D` + 16 base62 characters.
pub fn new_data_source_id() -> String {
    new_id('D')
}

/// `P` + 16 base62 characters.
pub fn new_person_id() -> String {
    new_id('P')
}

/// `R` + 16 base62 characters.
pub fn new_role_id() -> String {
    new_id('R')
}

fn new_id(prefix: char) -> String {
    format!("{prefix}{}", nanoid::nanoid!(ID_BODY_LEN, &BASE62))
}

/// A random base62 string, for API key secrets.
pub fn random_base62(len: usize) -> String {
    nanoid::nanoid!(len, &BASE62)
}

/// Whether `text` has the shape of an id with this prefix. Aliases of that shape are refused
/// because a path names an object by id first, so such an alias could shadow another object.
pub fn looks_like_id(prefix: char, text: &str) -> bool {
    let mut chars = text.chars();
    chars.next() == Some(prefix)
        && text.len() == 1 + ID_BODY_LEN
        && chars.all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_source_ids_have_the_contract_shape_and_differ() {
        let a = new_data_source_id();
        let b = new_data_source_id();
        assert!(looks_like_id('D', &a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn other_shapes_are_not_ids() {
        assert!(!looks_like_id('D', "some-db"));
        // The vendor page's ids come in both lengths; the contract fixes D + 16.
        assert!(!looks_like_id('D', "DKgU62P1dUlJfGTG"));
        assert!(!looks_like_id('D', "PUGC6IqGQ4DX00Lt0"));
        assert!(!looks_like_id('D', "DUGC6IqGQ4DX00L-0"));
        assert!(looks_like_id('D', "DUGC6IqGQ4DX00Lt0"));
    }
}
