//! "Did you mean ...?": the nearest candidate to a misspelt name.

/// Edit distance (insertions, deletions, substitutions) between two strings, by char.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate nearest to `word`: within an edit distance of 2 (and not every
/// character replaced), or sharing a prefix
/// of at least 3 characters with it (one starts with the other). Ties keep the first.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let n = lower.chars().count();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let m = c.chars().count();
        let prefix = n >= 3 && m >= 3 && (c.starts_with(lower.as_str()) || lower.starts_with(c));
        // Words whose lengths differ by more than 2 are further apart than 2 edits:
        // no need to measure (this keeps a file of long unknown keys cheap).
        let d = if n.abs_diff(m) <= 2 {
            distance(&lower, &c.to_lowercase())
        } else {
            usize::MAX
        };
        // An edit distance as long as the words themselves means nothing is shared.
        let score = if d <= 2 && d < n.max(m) {
            d
        } else if prefix {
            3
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` for the nearest candidate, if any.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("nedds", "needs"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("é", "e"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_within_two_edits() {
        let keys = ["id", "kind", "needs", "when"];
        assert_eq!(suggest("nedds", keys), Some("needs"));
        assert_eq!(suggest("knd", keys), Some("kind"));
        assert_eq!(suggest("zzzzzz", keys), None);
        assert_eq!(suggest("c", ["b"]), None);
        assert_eq!(suggest("xy", ["id"]), None);
        assert_eq!(suggest("if", ["id"]), Some("id"));
    }

    #[test]
    fn shared_prefix() {
        assert_eq!(
            suggest("max", ["max_parallel", "name"]),
            Some("max_parallel")
        );
        assert_eq!(suggest("descr", ["description"]), Some("description"));
        assert_eq!(suggest("inputs_x", ["inputs"]), Some("inputs"));
    }

    #[test]
    fn case_insensitive_and_closest_wins() {
        assert_eq!(suggest("SHELL", ["set", "shell"]), Some("shell"));
        assert_eq!(suggest("sett", ["set", "shell"]), Some("set"));
    }
}
