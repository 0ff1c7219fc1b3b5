//! The framing every multi-step target reads its input with, and writes its seeds with.
//!
//! An input is a sequence of frames `[tag: u8][len: u16 LE][payload: len bytes]`. The tag
//! picks what the payload is (a request type, a gateway route, a backend column). A frame
//! whose length runs past the end takes the rest of the input, and a tail shorter than the
//! 3-byte header is one last frame, so every byte string is a valid (if odd) sequence. At
//! most [`MAX_FRAMES`] frames are read: inputs stay bounded in work, not only in size.

/// Frames read from one input at most.
pub const MAX_FRAMES: usize = 32;

/// An iterator over the `(tag, payload)` frames of an input.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Frames<'a> {
    /// The frames of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Frames {
            rest: data,
            left: MAX_FRAMES,
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.rest.is_empty() {
            return None;
        }
        self.left -= 1;
        let tag = self.rest[0];
        if self.rest.len() < 3 {
            let payload = &self.rest[1..];
            self.rest = &[];
            return Some((tag, payload));
        }
        let len = usize::from(u16::from_le_bytes([self.rest[1], self.rest[2]]));
        let body = &self.rest[3..];
        let len = len.min(body.len());
        let (payload, rest) = body.split_at(len);
        self.rest = rest;
        Some((tag, payload))
    }
}

/// Appends one frame to `out` (payloads longer than `u16::MAX` are cut).
pub fn push_frame(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    let len = payload.len().min(usize::from(u16::MAX));
    out.push(tag);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&payload[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_odd_tails() {
        let mut buf = Vec::new();
        push_frame(&mut buf, 1, b"abc");
        push_frame(&mut buf, 2, b"");
        let frames: Vec<_> = Frames::new(&buf).collect();
        assert_eq!(frames, vec![(1, &b"abc"[..]), (2, &b""[..])]);
        // Length past the end: the rest.
        let frames: Vec<_> = Frames::new(&[7, 200, 0, b'x', b'y']).collect();
        assert_eq!(frames, vec![(7, &b"xy"[..])]);
        // A 2-byte tail.
        let frames: Vec<_> = Frames::new(&[9, 1]).collect();
        assert_eq!(frames, vec![(9, &[1u8][..])]);
        assert_eq!(Frames::new(&[0; 1000]).count(), MAX_FRAMES);
    }
}
