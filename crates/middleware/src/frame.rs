//! Incremental scanner of gRPC's length-prefixed message framing.
//!
//! Each gRPC message on the wire is a 5-byte prefix (1 byte compressed flag, 4 bytes big-endian
//! payload length) followed by the payload. HTTP/2 DATA frames split and merge messages
//! arbitrarily, so the scanner keeps its position across chunks. It never copies payload bytes.

use std::ops::ControlFlow;

/// Length of the gRPC message prefix (flag + u32 length).
pub(crate) const PREFIX_LEN: usize = 5;

/// What one call to [`FrameScanner::scan`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanOutcome {
    /// Messages whose last payload byte was in this chunk.
    pub(crate) completed: u64,
    /// Set when the header callback asked to stop; holds the declared length it rejected.
    pub(crate) stopped_at: Option<u32>,
}

/// Position inside the framed byte stream.
#[derive(Debug, Default)]
pub(crate) struct FrameScanner {
    prefix: [u8; PREFIX_LEN],
    prefix_len: usize,
    payload_left: u64,
}

impl FrameScanner {
    /// Feeds the next chunk. `on_header` sees the declared length of every message prefix
    /// completed in this chunk and may return `Break` to stop scanning (the scanner is then
    /// left at that prefix; callers stop feeding it).
    pub(crate) fn scan(
        &mut self,
        data: &[u8],
        mut on_header: impl FnMut(u32) -> ControlFlow<()>,
    ) -> ScanOutcome {
        let mut out = ScanOutcome::default();
        let mut rest = data;
        while !rest.is_empty() {
            if self.prefix_len < PREFIX_LEN {
                let take = (PREFIX_LEN - self.prefix_len).min(rest.len());
                self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&rest[..take]);
                self.prefix_len += take;
                rest = &rest[take..];
                if self.prefix_len == PREFIX_LEN {
                    let len = u32::from_be_bytes([
                        self.prefix[1],
                        self.prefix[2],
                        self.prefix[3],
                        self.prefix[4],
                    ]);
                    if on_header(len).is_break() {
                        out.stopped_at = Some(len);
                        return out;
                    }
                    self.payload_left = u64::from(len);
                    if len == 0 {
                        out.completed += 1;
                        self.prefix_len = 0;
                    }
                }
            } else {
                let take = self.payload_left.min(rest.len() as u64);
                // `take` <= rest.len(), so the cast back is lossless.
                rest = &rest[take as usize..];
                self.payload_left -= take;
                if self.payload_left == 0 {
                    out.completed += 1;
                    self.prefix_len = 0;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn count_all(s: &mut FrameScanner, data: &[u8]) -> u64 {
        s.scan(data, |_| ControlFlow::Continue(())).completed
    }

    #[test]
    fn counts_whole_and_empty_messages() {
        let mut data = msg(b"hello");
        data.extend(msg(b""));
        data.extend(msg(&[7u8; 300]));
        let mut s = FrameScanner::default();
        assert_eq!(count_all(&mut s, &data), 3);
    }

    #[test]
    fn counts_across_arbitrary_splits() {
        let mut data = msg(b"abc");
        data.extend(msg(&[1u8; 40]));
        data.extend(msg(b""));
        data.extend(msg(b"z"));
        for chunk in 1..data.len() {
            let mut s = FrameScanner::default();
            let total: u64 = data.chunks(chunk).map(|c| count_all(&mut s, c)).sum();
            assert_eq!(total, 4, "chunk size {chunk}");
        }
    }

    #[test]
    fn partial_message_is_not_counted() {
        let data = msg(&[0u8; 10]);
        let mut s = FrameScanner::default();
        assert_eq!(count_all(&mut s, &data[..8]), 0);
        assert_eq!(count_all(&mut s, &data[8..]), 1);
    }

    #[test]
    fn header_callback_sees_lengths_and_can_stop() {
        let mut data = msg(b"ok");
        data.extend(msg(&[0u8; 100]));
        let mut seen = Vec::new();
        let mut s = FrameScanner::default();
        let out = s.scan(&data, |len| {
            seen.push(len);
            if len > 50 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, vec![2, 100]);
        assert_eq!(out.completed, 1);
        assert_eq!(out.stopped_at, Some(100));
    }
}
