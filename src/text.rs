//! Small helpers for the words aios shows: counted nouns in the right number
//! ("1 step", "3 steps"), so no output says "1 steps" or "run(s)".

/// `n` and `noun` in the right number: `count(1, "step")` is "1 step",
/// `count(3, "step")` is "3 steps". For nouns whose plural is not `noun + "s"`,
/// use [`count_as`].
pub fn count(n: impl Quantity, noun: &str) -> String {
    let n = n.amount();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `n` and one of two forms: `count_as(2, "entry", "entries")` is "2 entries".
pub fn count_as(n: impl Quantity, one: &str, many: &str) -> String {
    let n = n.amount();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The singular or the plural form alone: `noun(2, "run", "runs")` is "runs".
pub fn noun<'a>(n: impl Quantity, one: &'a str, many: &'a str) -> &'a str {
    if n.amount() == 1 { one } else { many }
}

/// Anything that counts: the unsigned and signed integer types.
pub trait Quantity: Copy {
    fn amount(self) -> i128;
}

macro_rules! quantity {
    ($($t:ty),*) => {$(
        impl Quantity for $t {
            fn amount(self) -> i128 {
                self as i128
            }
        }
    )*};
}
quantity!(u8, u16, u32, u64, usize, i32, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_nouns_agree_with_their_number() {
        assert_eq!(count(0u64, "step"), "0 steps");
        assert_eq!(count(1u64, "step"), "1 step");
        assert_eq!(count(2u32, "attempt"), "2 attempts");
        assert_eq!(count_as(1u64, "entry", "entries"), "1 entry");
        assert_eq!(count_as(5u64, "entry", "entries"), "5 entries");
        assert_eq!(noun(1u8, "was", "were"), "was");
        assert_eq!(noun(3u8, "was", "were"), "were");
    }
}
