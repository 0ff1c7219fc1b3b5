//! A small line diff (LCS) for readable failure messages.

/// Renders a unified-style diff of `left` (expected, `-`) and `right` (actual, `+`) with
/// `context` unchanged lines around each change. Returns an empty string when equal.
pub fn line_diff(left: &str, right: &str, context: usize) -> String {
    if left == right {
        return String::new();
    }
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = LCS length of a[i..] and b[j..]
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<bool> = ops.iter().map(|(c, _)| *c != ' ').collect();
    let mut out = String::new();
    let mut last_printed: Option<usize> = None;
    for (k, (c, line)) in ops.iter().enumerate() {
        let lo = k.saturating_sub(context);
        let hi = (k + context + 1).min(ops.len());
        if !changed[lo..hi].iter().any(|x| *x) {
            continue;
        }
        if matches!(last_printed, Some(p) if p + 1 != k) {
            out.push_str("...\n");
        }
        out.push(*c);
        out.push(' ');
        out.push_str(line);
        out.push('\n');
        last_printed = Some(k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changed_lines_only_with_context() {
        let d = line_diff("a\nb\nc\nd\ne\nf\ng", "a\nb\nc\nX\ne\nf\ng", 1);
        assert_eq!(d, "  c\n- d\n+ X\n  e\n");
        assert_eq!(line_diff("same", "same", 3), "");
    }
}
