//! CRC-32C (Castagnoli), the checksum etcd uses for `Hash`/`HashKV`, from the `crc32c`
//! crate (hardware instructions where the CPU has them).

/// A running CRC-32C.
#[derive(Debug, Clone, Default)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(0)
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0 = crc32c::crc32c_append(self.0, data);
    }

    pub(crate) fn finish(&self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        let mut c = Crc32c::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xE306_9283);
        assert_eq!(Crc32c::new().finish(), 0);
    }
}
