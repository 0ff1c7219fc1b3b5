//! bbolt's on-disk page format: constants, the page header, the meta page and its
//! FNV-64a checksum.
//!
//! Every integer is little-endian (bbolt writes its structs in the machine's order, and
//! etcd's snapshots come from little-endian machines). A page is `page_size` bytes; one
//! whose content does not fit spills into `overflow` more pages that follow it.
//!
//! ```text
//! page header (16): id u64 | flags u16 | count u16 | overflow u32
//! meta (at 16):     magic u32 | version u32 | page_size u32 | flags u32 |
//!                   root {pgid u64, sequence u64} | freelist u64 | pgid u64 | txid u64 |
//!                   checksum u64 (FNV-64a of the 56 bytes before it)
//! branch element:   pos u32 | ksize u32 | pgid u64   (pos counts from the element)
//! leaf element:     flags u32 | pos u32 | ksize u32 | vsize u32
//! bucket value:     root pgid u64 | sequence u64 [| inline leaf page when root == 0]
//! freelist page:    count ids (u64); count 0xFFFF means the first u64 holds the count
//! ```

use crate::error::{Result, SnapshotError};

/// The page size this crate writes (the page size of the machines etcd runs on).
pub const PAGE_SIZE: usize = 4096;
/// Bytes of a page header.
pub const PAGE_HEADER_SIZE: usize = 16;
/// Bytes of one branch or leaf element.
pub const ELEMENT_SIZE: usize = 16;
/// Bytes of a bucket header (`root`, `sequence`).
pub const BUCKET_HEADER_SIZE: usize = 16;
/// Page flag: a branch page.
pub const BRANCH_PAGE: u16 = 0x01;
/// Page flag: a leaf page.
pub const LEAF_PAGE: u16 = 0x02;
/// Page flag: a meta page.
pub const META_PAGE: u16 = 0x04;
/// Page flag: the freelist page.
pub const FREELIST_PAGE: u16 = 0x10;
/// Leaf element flag: the value is a bucket header.
pub const BUCKET_LEAF_FLAG: u32 = 0x01;
/// The meta magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The data format version bbolt writes and reads.
pub const VERSION: u32 = 2;
/// bbolt's largest key.
pub const MAX_KEY_SIZE: usize = 32768;
/// bbolt's largest value.
pub const MAX_VALUE_SIZE: usize = (1 << 31) - 2;
/// A meta `freelist` of this value means "no freelist stored" (bbolt's NoFreelistSync).
pub const NO_FREELIST: u64 = u64::MAX;
/// A sub-bucket is stored inline in its parent's leaf when its one leaf page (header,
/// elements and data) takes at most this many bytes and holds no bucket itself.
pub const MAX_INLINE_BUCKET_SIZE: usize = PAGE_SIZE / 4;
/// Bytes of the meta struct covered by its checksum.
const META_CHECKSUMMED: usize = 56;

/// FNV-64a, the meta page checksum.
pub fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut x = [0u8; 2];
    x.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(x)
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// A page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// The page id (its offset in pages).
    pub id: u64,
    /// One of the `*_PAGE` flags.
    pub flags: u16,
    /// Elements on the page.
    pub count: u16,
    /// Pages that follow this one and belong to it.
    pub overflow: u32,
}

impl PageHeader {
    /// Writes the header into the first 16 bytes of `page`.
    pub fn write(&self, page: &mut [u8]) {
        page[0..8].copy_from_slice(&self.id.to_le_bytes());
        page[8..10].copy_from_slice(&self.flags.to_le_bytes());
        page[10..12].copy_from_slice(&self.count.to_le_bytes());
        page[12..16].copy_from_slice(&self.overflow.to_le_bytes());
    }

    /// bbolt's name for the page's type (`page.typ`): the first of branch, leaf, meta
    /// and freelist whose bit is set, else `unknown<xx>`.
    pub fn typ(&self) -> String {
        let f = self.flags;
        if f & BRANCH_PAGE != 0 {
            "branch".into()
        } else if f & LEAF_PAGE != 0 {
            "leaf".into()
        } else if f & META_PAGE != 0 {
            "meta".into()
        } else if f & FREELIST_PAGE != 0 {
            "freelist".into()
        } else {
            format!("unknown<{f:02x}>")
        }
    }

    /// Reads a header from the first 16 bytes of `page` (which must have them).
    pub fn read(page: &[u8]) -> PageHeader {
        PageHeader {
            id: u64_at(page, 0),
            flags: u16_at(page, 8),
            count: u16_at(page, 10),
            overflow: u32_at(page, 12),
        }
    }
}

/// The content of a meta page: where the tree, the freelist and the end of the file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The page size of the whole file.
    pub page_size: u32,
    /// Meta flags (always 0).
    pub flags: u32,
    /// The root bucket's root page.
    pub root: u64,
    /// The root bucket's sequence.
    pub sequence: u64,
    /// The freelist page, or [`NO_FREELIST`].
    pub freelist: u64,
    /// The high-water mark: pages `0..pgid` make up the database.
    pub pgid: u64,
    /// The transaction that wrote this meta.
    pub txid: u64,
}

impl Meta {
    /// The whole meta page `id` (0 or 1), checksum included.
    pub fn to_page(&self, id: u64) -> Vec<u8> {
        let mut page = vec![0u8; self.page_size as usize];
        PageHeader {
            id,
            flags: META_PAGE,
            count: 0,
            overflow: 0,
        }
        .write(&mut page);
        let m = &mut page[PAGE_HEADER_SIZE..];
        m[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        m[4..8].copy_from_slice(&VERSION.to_le_bytes());
        m[8..12].copy_from_slice(&self.page_size.to_le_bytes());
        m[12..16].copy_from_slice(&self.flags.to_le_bytes());
        m[16..24].copy_from_slice(&self.root.to_le_bytes());
        m[24..32].copy_from_slice(&self.sequence.to_le_bytes());
        m[32..40].copy_from_slice(&self.freelist.to_le_bytes());
        m[40..48].copy_from_slice(&self.pgid.to_le_bytes());
        m[48..56].copy_from_slice(&self.txid.to_le_bytes());
        let sum = fnv64a(&m[..META_CHECKSUMMED]);
        m[56..64].copy_from_slice(&sum.to_le_bytes());
        page
    }

    /// Decodes and validates the meta in `page` (at least the header and 64 meta bytes):
    /// magic, version and checksum.
    pub fn from_page(page: &[u8]) -> Result<Meta> {
        if page.len() < PAGE_HEADER_SIZE + 64 {
            return Err(SnapshotError::NotBolt(
                "file too small for a meta page".into(),
            ));
        }
        let m = &page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + 64];
        match bbolt_meta_check(page) {
            Ok(()) => {}
            Err(BBOLT_INVALID) => {
                return Err(SnapshotError::NotBolt("bad magic number".into()));
            }
            Err(BBOLT_VERSION_MISMATCH) => {
                return Err(SnapshotError::NotBolt(format!(
                    "data format version {}, want {VERSION}",
                    u32_at(m, 4)
                )));
            }
            Err(_) => {
                return Err(SnapshotError::Corrupt("meta page checksum mismatch".into()));
            }
        }
        Ok(Meta {
            page_size: u32_at(m, 8),
            flags: u32_at(m, 12),
            root: u64_at(m, 16),
            sequence: u64_at(m, 24),
            freelist: u64_at(m, 32),
            pgid: u64_at(m, 40),
            txid: u64_at(m, 48),
        })
    }
}

/// bbolt's `ErrInvalid`.
pub const BBOLT_INVALID: &str = "invalid database";
/// bbolt's `ErrVersionMismatch`.
pub const BBOLT_VERSION_MISMATCH: &str = "version mismatch";
/// bbolt's `ErrChecksum`.
pub const BBOLT_CHECKSUM: &str = "checksum error";

/// bbolt's `meta.validate` of a meta page (at least a header and the 64-byte meta), with
/// bbolt's error text.
pub fn bbolt_meta_check(page: &[u8]) -> std::result::Result<(), &'static str> {
    let Some(m) = page.get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + 64) else {
        return Err(BBOLT_INVALID);
    };
    if u32_at(m, 0) != MAGIC {
        Err(BBOLT_INVALID)
    } else if u32_at(m, 4) != VERSION {
        Err(BBOLT_VERSION_MISMATCH)
    } else if u64_at(m, 56) != fnv64a(&m[..META_CHECKSUMMED]) {
        Err(BBOLT_CHECKSUM)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv64a_known_values() {
        assert_eq!(fnv64a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv64a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn meta_round_trip_and_damage() {
        let meta = Meta {
            page_size: PAGE_SIZE as u32,
            flags: 0,
            root: 7,
            sequence: 0,
            freelist: 9,
            pgid: 10,
            txid: 3,
        };
        let mut page = meta.to_page(1);
        assert_eq!(PageHeader::read(&page).flags, META_PAGE);
        assert_eq!(Meta::from_page(&page).unwrap(), meta);
        page[PAGE_HEADER_SIZE + 20] ^= 1;
        assert!(matches!(
            Meta::from_page(&page),
            Err(SnapshotError::Corrupt(_))
        ));
        page[PAGE_HEADER_SIZE] ^= 1;
        assert!(matches!(
            Meta::from_page(&page),
            Err(SnapshotError::NotBolt(_))
        ));
        assert!(Meta::from_page(&page[..40]).is_err());
    }
}
