//! Object ids: a one-letter kind prefix and 16 base62 characters, as JackDB's ids look.

const BASE62: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I',
    'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b',
    'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u',
    'v', 'w', 'x', 'y', 'z',
];

const ID_BODY_LEN: usize = 16;

/// An object id: made here for a new object, or read back from the store (which only holds
/// ids made here), never taken from a request (a path names objects by key: id, alias, name).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                Self(new_id($prefix))
            }

            /// An id as the store holds it.
            pub fn stored(id: String) -> Self {
                Self(id)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A data source's id: `D` + 16 base62 characters.
    DataSourceId,
    'D'
);
id_type!(
    /// A person's id: `P` + 16 base62 characters.
    PersonId,
    'P'
);
id_type!(
    /// A role's id: `R` + 16 base62 characters.
    RoleId,
    'R'
);

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
        let a = DataSourceId::generate();
        let b = DataSourceId::generate();
        assert!(looks_like_id('D', a.as_str()), "{a}");
        assert!(looks_like_id('P', PersonId::generate().as_str()));
        assert!(looks_like_id('R', RoleId::generate().as_str()));
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
