//! Seeds of `raftlog-files`: no damage at all, then, for each of the first data files of
//! the template, a cut in half, a flipped byte a third in, and a deletion; and a few
//! inputs that damage two files at once. Offsets are fractions of the file length (see
//! [`Corruption`]), so the seeds fit whatever sizes the template's files have.

use crate::frames::push_frame;
use crate::targets::raftlog_files::Corruption;

/// Data files the seeds address by index (the template has about this many).
const FILES: u8 = 40;

fn frac(num: u32, den: u32) -> u32 {
    0x8000_0000 | ((u64::from(num) << 31) / u64::from(den)) as u32
}

fn input(damage: &[Corruption]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in damage {
        push_frame(&mut out, c.file, &c.payload());
    }
    out
}

/// The seed files.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = vec![("intact.bin".to_string(), Vec::new())];
    for file in 0..FILES {
        let c = |op, offset, data: &[u8]| Corruption {
            file,
            op,
            offset,
            data: data.to_vec(),
        };
        seeds.push((
            format!("f{file:02}-truncate-half.bin"),
            input(&[c(0, frac(1, 2), &[])]),
        ));
        seeds.push((
            format!("f{file:02}-flip-third.bin"),
            input(&[c(2, frac(1, 3), &[0x10])]),
        ));
        seeds.push((format!("f{file:02}-delete.bin"), input(&[c(4, 0, &[])])));
    }
    let two = [
        Corruption {
            file: 1,
            op: 3,
            offset: frac(1, 4),
            data: vec![0, 1],
        },
        Corruption {
            file: 20,
            op: 1,
            offset: frac(9, 10),
            data: b"garbage".to_vec(),
        },
    ];
    seeds.push(("two-files-zero-and-overwrite.bin".into(), input(&two)));
    seeds
}
