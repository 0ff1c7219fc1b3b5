//! The printers of `get`, `put`, `del`, `txn` and `watch` responses.

use oxcd_client::{DeleteRangeResponse, PutResponse, RangeResponse, TxnResponse, WatchResponse};

use super::{fields, json, json_line, pb, simple, Format, Printer, Unsupported};
use crate::error::CtlError;

impl Printer {
    /// A get.
    pub fn get(&self, r: &RangeResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::get(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::get(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::range(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A put.
    pub fn put(&self, r: &PutResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::put(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::put(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::put(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A delete.
    pub fn del(&self, r: &DeleteRangeResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::delete(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::delete(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::delete(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A transaction.
    pub fn txn(&self, r: &TxnResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::txn(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::txn(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::txn(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// One watch response (protobuf: the fields clientv3 keeps).
    pub fn watch(&self, r: &WatchResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::watch(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::watch(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::watch(r)),
            Format::Protobuf => pb(
                o,
                &WatchResponse {
                    header: Some(r.header.unwrap_or_default()),
                    events: r.events.clone(),
                    compact_revision: r.compact_revision,
                    canceled: r.canceled,
                    created: r.created,
                    ..WatchResponse::default()
                },
            ),
            Format::Table => Err(Unsupported),
        })
    }
}
