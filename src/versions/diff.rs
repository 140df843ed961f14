//! Word-level diffs between a version and the current text.

use super::views::{DiffOp, FieldDiff};

/// Word-level diff (longest common subsequence), falling back to one replaced middle for
/// very long texts so the cost stays bounded.
pub fn field_diff(field: &str, before: &str, after: &str) -> FieldDiff {
    FieldDiff {
        field: field.to_string(),
        before: before.to_string(),
        after: after.to_string(),
        changes: diff_words(before, after),
    }
}

fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_space: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace();
        if last_space.is_some_and(|l| l != space) {
            out.push(&s[start..i]);
            start = i;
        }
        last_space = Some(space);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn push(ops: &mut Vec<DiffOp>, op: &'static str, text: &str) {
    if text.is_empty() {
        return;
    }
    match ops.last_mut() {
        Some(last) if last.op == op => last.text.push_str(text),
        _ => ops.push(DiffOp {
            op,
            text: text.to_string(),
        }),
    }
}

pub fn diff_words(before: &str, after: &str) -> Vec<DiffOp> {
    let (a, b) = (tokens(before), tokens(after));
    let mut ops = Vec::new();
    if a.len() * b.len() > 4_000_000 {
        push(&mut ops, "delete", before);
        push(&mut ops, "insert", after);
        return ops;
    }
    // lcs[i][j] = LCS length of a[i..] and b[j..]
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            push(&mut ops, "equal", a[i]);
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            push(&mut ops, "delete", a[i]);
            i += 1;
        } else {
            push(&mut ops, "insert", b[j]);
            j += 1;
        }
    }
    for t in &a[i..] {
        push(&mut ops, "delete", t);
    }
    for t in &b[j..] {
        push(&mut ops, "insert", t);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff() {
        let ops = diff_words("We launch today", "We proudly launch today!");
        let text: Vec<(&str, &str)> = ops.iter().map(|o| (o.op, o.text.as_str())).collect();
        assert_eq!(
            text,
            [
                ("equal", "We "),
                ("insert", "proudly "),
                ("equal", "launch "),
                ("delete", "today"),
                ("insert", "today!")
            ]
        );
        assert!(diff_words("", "").is_empty());
        assert_eq!(diff_words("", "new")[0].op, "insert");
    }
}
