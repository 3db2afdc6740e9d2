//! Secret names: what `aios secret set NAME` accepts and `secret("NAME")` reads.

/// Longest accepted name.
pub const MAX_NAME: usize = 128;

/// A secret's name: letters, digits and `_`, not starting with a digit (the shape
/// of an environment variable, so `api_key_env` names and store names are one
/// namespace), at most 128 bytes.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The hint that goes with a refused name.
pub const NAME_HINT: &str =
    "a secret's name is letters, digits and `_`, starting with a letter or `_`, like STRIPE_KEY";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["STRIPE_KEY", "_x", "a1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1A", "a-b", "a.b", "a b", "é", &"x".repeat(129)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
