//! [`WatchResponseWire`]: `etcdserverpb.WatchResponse` with its events already encoded.
//!
//! A watch event usually fans out to many watchers. Encoding it once and copying the bytes
//! into every watcher's response is much cheaper than encoding the same `Event` (and
//! touching the reference counts of its key and value) once per watcher.
//!
//! On the wire an embedded message and a `bytes` field with the same number are the same
//! thing (wire type 2, a length, the message bytes), so a response whose `events` field
//! (number 11) is written from [`EncodedEvents`] is byte for byte the `WatchResponse` a
//! client expects.
//!
//! # Invariants
//! - [`EncodedEvents`] HOLDS WHOLE, TAGGED FIELD-11 ENTRIES (key, length, `Event` bytes),
//!   in revision order; `count` is the number of entries.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};

use crate::etcdserverpb::{ResponseHeader, WatchResponse};
use crate::mvccpb::Event;

/// Field number of `WatchResponse.events`.
const EVENTS_TAG: u32 = 11;

/// Events encoded as the `events` entries of a `WatchResponse`. Cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedEvents {
    bytes: Bytes,
    count: u32,
}

impl EncodedEvents {
    /// Encodes `events`.
    pub fn encode(events: &[Event]) -> Self {
        let len: usize = events
            .iter()
            .map(|e| encoding::message::encoded_len(EVENTS_TAG, e))
            .sum();
        let mut buf = BytesMut::with_capacity(len);
        for e in events {
            encoding::message::encode(EVENTS_TAG, e, &mut buf);
        }
        Self {
            bytes: buf.freeze(),
            count: events.len() as u32,
        }
    }

    /// One event, encoded.
    pub fn one(event: &Event) -> Self {
        Self::encode(std::slice::from_ref(event))
    }

    /// Concatenates encoded events (each piece in order).
    pub fn concat(pieces: &[&EncodedEvents]) -> Self {
        if let [one] = pieces {
            return (*one).clone();
        }
        let len: usize = pieces.iter().map(|p| p.bytes.len()).sum();
        let mut buf = BytesMut::with_capacity(len);
        let mut count = 0;
        for p in pieces {
            buf.put_slice(&p.bytes);
            count += p.count;
        }
        Self {
            bytes: buf.freeze(),
            count,
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size in bytes, tags included.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Decodes the events.
    pub fn decode(&self) -> Result<Vec<Event>, DecodeError> {
        let mut buf = self.bytes.clone();
        let mut out = Vec::with_capacity(self.len());
        while buf.has_remaining() {
            let (tag, wire_type) = encoding::decode_key(&mut buf)?;
            if tag != EVENTS_TAG {
                encoding::skip_field(wire_type, tag, &mut buf, DecodeContext::default())?;
                continue;
            }
            let mut ev = Event::default();
            encoding::message::merge(wire_type, &mut ev, &mut buf, DecodeContext::default())?;
            out.push(ev);
        }
        Ok(out)
    }
}

/// `etcdserverpb.WatchResponse` with pre-encoded events; encodes to the same bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchResponseWire {
    /// Field 1.
    pub header: Option<ResponseHeader>,
    /// Field 2.
    pub watch_id: i64,
    /// Field 3.
    pub created: bool,
    /// Field 4.
    pub canceled: bool,
    /// Field 5.
    pub compact_revision: i64,
    /// Field 6.
    pub cancel_reason: String,
    /// Field 7.
    pub fragment: bool,
    /// Field 11, already encoded.
    pub events: EncodedEvents,
}

impl WatchResponseWire {
    /// Decodes the events into a plain `WatchResponse`.
    pub fn into_response(self) -> Result<WatchResponse, DecodeError> {
        Ok(WatchResponse {
            events: self.events.decode()?,
            header: self.header,
            watch_id: self.watch_id,
            created: self.created,
            canceled: self.canceled,
            compact_revision: self.compact_revision,
            cancel_reason: self.cancel_reason,
            fragment: self.fragment,
        })
    }
}

impl From<WatchResponse> for WatchResponseWire {
    fn from(r: WatchResponse) -> Self {
        Self {
            events: EncodedEvents::encode(&r.events),
            header: r.header,
            watch_id: r.watch_id,
            created: r.created,
            canceled: r.canceled,
            compact_revision: r.compact_revision,
            cancel_reason: r.cancel_reason,
            fragment: r.fragment,
        }
    }
}

impl Message for WatchResponseWire {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if let Some(h) = &self.header {
            encoding::message::encode(1, h, buf);
        }
        if self.watch_id != 0 {
            encoding::int64::encode(2, &self.watch_id, buf);
        }
        if self.created {
            encoding::bool::encode(3, &self.created, buf);
        }
        if self.canceled {
            encoding::bool::encode(4, &self.canceled, buf);
        }
        if self.compact_revision != 0 {
            encoding::int64::encode(5, &self.compact_revision, buf);
        }
        if !self.cancel_reason.is_empty() {
            encoding::string::encode(6, &self.cancel_reason, buf);
        }
        if self.fragment {
            encoding::bool::encode(7, &self.fragment, buf);
        }
        buf.put_slice(&self.events.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::message::merge(
                wire_type,
                self.header.get_or_insert_with(Default::default),
                buf,
                ctx,
            ),
            2 => encoding::int64::merge(wire_type, &mut self.watch_id, buf, ctx),
            3 => encoding::bool::merge(wire_type, &mut self.created, buf, ctx),
            4 => encoding::bool::merge(wire_type, &mut self.canceled, buf, ctx),
            5 => encoding::int64::merge(wire_type, &mut self.compact_revision, buf, ctx),
            6 => encoding::string::merge(wire_type, &mut self.cancel_reason, buf, ctx),
            7 => encoding::bool::merge(wire_type, &mut self.fragment, buf, ctx),
            EVENTS_TAG => {
                let mut raw = Vec::new();
                encoding::bytes::merge(wire_type, &mut raw, buf, ctx)?;
                let mut all = BytesMut::from(&self.events.bytes[..]);
                encoding::bytes::encode(EVENTS_TAG, &raw, &mut all);
                self.events = EncodedEvents {
                    bytes: all.freeze(),
                    count: self.events.count + 1,
                };
                Ok(())
            }
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        self.header
            .as_ref()
            .map_or(0, |h| encoding::message::encoded_len(1, h))
            + if self.watch_id != 0 {
                encoding::int64::encoded_len(2, &self.watch_id)
            } else {
                0
            }
            + if self.created { 2 } else { 0 }
            + if self.canceled { 2 } else { 0 }
            + if self.compact_revision != 0 {
                encoding::int64::encoded_len(5, &self.compact_revision)
            } else {
                0
            }
            + if self.cancel_reason.is_empty() {
                0
            } else {
                encoding::string::encoded_len(6, &self.cancel_reason)
            }
            + if self.fragment { 2 } else { 0 }
            + self.events.bytes.len()
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvccpb::{event::EventType, KeyValue};

    fn event(i: u8, prev: bool) -> Event {
        let kv = |v: u8| KeyValue {
            key: vec![b'k', i].into(),
            value: vec![v; 10].into(),
            create_revision: 2,
            mod_revision: 3 + i as i64,
            version: 2,
            lease: 0,
        };
        Event {
            r#type: if i % 2 == 0 {
                EventType::Put as i32
            } else {
                EventType::Delete as i32
            },
            kv: Some(kv(1)),
            prev_kv: prev.then(|| kv(0)),
        }
    }

    #[test]
    fn encodes_like_watch_response() {
        let resp = WatchResponse {
            header: Some(ResponseHeader {
                cluster_id: 7,
                member_id: 8,
                revision: 9,
                raft_term: 10,
            }),
            watch_id: 3,
            created: true,
            canceled: true,
            compact_revision: 4,
            cancel_reason: "why".into(),
            fragment: true,
            events: vec![event(0, false), event(1, true), event(2, false)],
        };
        let wire = WatchResponseWire::from(resp.clone());
        assert_eq!(wire.encoded_len(), resp.encoded_len());
        assert_eq!(wire.encode_to_vec(), resp.encode_to_vec());
        let back = WatchResponseWire::decode(&resp.encode_to_vec()[..]).unwrap();
        assert_eq!(back.events.len(), 3);
        assert_eq!(back.clone().into_response().unwrap(), resp);
        assert_eq!(back, wire);
    }

    #[test]
    fn concat_keeps_order_and_count() {
        let a = EncodedEvents::one(&event(0, false));
        let b = EncodedEvents::encode(&[event(1, true), event(2, false)]);
        let all = EncodedEvents::concat(&[&a, &b]);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all.decode().unwrap(),
            vec![event(0, false), event(1, true), event(2, false)]
        );
        assert_eq!(
            all.byte_len(),
            EncodedEvents::encode(&all.decode().unwrap()).byte_len()
        );
        assert!(EncodedEvents::default().is_empty());
    }

    #[test]
    fn empty_response_matches() {
        let resp = WatchResponse::default();
        let wire = WatchResponseWire::from(resp.clone());
        assert_eq!(wire.encode_to_vec(), resp.encode_to_vec());
        assert_eq!(wire.encoded_len(), 0);
    }
}
