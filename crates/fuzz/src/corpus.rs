//! Loading a target's saved corpus (`<corpus root>/<target>/`, every regular file, in
//! file-name order, so input `i` of a run is the same on every machine).

use std::path::Path;

/// The inputs in `dir`, each cut to `max_len`; one empty input if there are none.
pub fn load(dir: &Path, max_len: usize) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths = Vec::new();
    if dir.is_dir() {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_file() {
                paths.push(e.path());
            }
        }
    }
    paths.sort();
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        let mut bytes = std::fs::read(&p)?;
        bytes.truncate(max_len);
        inputs.push(bytes);
    }
    if inputs.is_empty() {
        inputs.push(Vec::new());
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_in_name_order_and_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), b"bbbb").unwrap();
        std::fs::write(dir.path().join("a"), b"a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(
            load(dir.path(), 2).unwrap(),
            vec![b"a".to_vec(), b"bb".to_vec()]
        );
        assert_eq!(
            load(&dir.path().join("none"), 9).unwrap(),
            vec![Vec::<u8>::new()]
        );
    }
}
