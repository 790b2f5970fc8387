//! "Did you mean" suggestions for misspelled option and argument names.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    // Case is compared last: `TTL` is `ttl` mistyped, not three edits away from it.
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `; did you mean `x`?` when a close candidate exists, else nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Edit distance counting an adjacent transposition as one edit (`tll` -> `ttl` is 1).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: [&str; 4] = ["ttl", "prefix", "cache_type", "key"];

    #[test]
    fn transpositions_and_typos_are_suggested() {
        assert_eq!(closest("tll", OPTIONS), Some("ttl"));
        assert_eq!(closest("prefx", OPTIONS), Some("prefix"));
        assert_eq!(closest("cachetype", OPTIONS), Some("cache_type"));
        assert_eq!(closest("keys", OPTIONS), Some("key"));
        assert_eq!(closest("TTL", OPTIONS), Some("ttl"));
        assert_eq!(closest("Prefix", OPTIONS), Some("prefix"));
    }

    #[test]
    fn unrelated_words_are_not() {
        assert_eq!(closest("capacity", OPTIONS), None);
        assert_eq!(did_you_mean("zzz", OPTIONS), "");
    }

    #[test]
    fn lists_are_quoted() {
        assert_eq!(list(["a", "b"]), "`a`, `b`");
    }
}
