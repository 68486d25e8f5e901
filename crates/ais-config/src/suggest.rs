//! "Did you mean": the known name nearest to a misspelt one, by edit distance.

/// The candidate nearest to `wrong`, if it is close enough to be a plausible typo: at most
/// one edit per three characters of the candidate, and at least one edit allowed. Ties go to
/// the earlier candidate, so table order decides.
pub(crate) fn nearest<'c>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|candidate| (distance(wrong, candidate), candidate))
        .filter(|&(d, candidate)| d <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
/// characters (the optimal string alignment distance), over characters: `totme` is one
/// edit from `totem`.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // `d[i][j]` is the distance between `a[..i]` and `b[..j]`.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitute = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitute.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
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

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("tokn", "token"), 1);
        assert_eq!(distance("ringnumber", "linknumber"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("totme", "totem"), 1);
    }

    #[test]
    fn nearest_suggests_only_plausible_typos() {
        let keys = ["token", "token_coefficient", "join", "consensus"];
        assert_eq!(nearest("tokn", keys), Some("token"));
        assert_eq!(nearest("consesus", keys), Some("consensus"));
        assert_eq!(nearest("window", keys), None);
    }
}
