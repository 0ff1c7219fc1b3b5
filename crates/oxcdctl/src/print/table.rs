//! `-w table`: olekukonko/tablewriter's layout as etcdctl 3.4 uses it: `+---+` borders,
//! upper-case centred headers, cells right-aligned, one space of padding each side.
//! (tablewriter wraps cells longer than 30 characters at spaces; etcdctl's cells rarely
//! have spaces and this writer does not wrap.)

/// Renders `header` and `rows` as a table, every line ending in a newline.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let border = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let mut out = border.clone();
    out.push('|');
    for (h, w) in header.iter().zip(&widths) {
        let gap = w - h.chars().count();
        let left = gap / 2;
        out.push_str(&format!(
            " {}{}{} |",
            " ".repeat(left),
            h,
            " ".repeat(gap - left)
        ));
    }
    out.push('\n');
    out.push_str(&border);
    for row in rows {
        out.push('|');
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            out.push_str(&format!(" {cell:>w$} |"));
        }
        out.push('\n');
    }
    out.push_str(&border);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_as_tablewriter() {
        let t = render(
            &["ID", "Status", "Name"],
            &[vec![
                "628170c800dbcee".into(),
                "started".into(),
                "e1".into(),
            ]],
        );
        assert_eq!(
            t,
            "+-----------------+---------+------+\n\
             |       ID        | STATUS  | NAME |\n\
             +-----------------+---------+------+\n\
             | 628170c800dbcee | started |   e1 |\n\
             +-----------------+---------+------+\n"
        );
    }
}
