//! The printers of lease responses (clientv3 embeds the header in its lease structs: json
//! flattens it, protobuf marshals the header alone).

use oxcd_client::proto::etcdserverpb::{
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
};

use super::fields::{hdr, line};
use super::json::{self, Obj};
use super::{flat_header, header_pb, json_line, Format, Printer, Unsupported};
use crate::error::{exit, CtlError};
use crate::gotext::quote;

impl Printer {
    /// `lease grant` (clientv3's struct embeds the header: json flattens it, protobuf
    /// marshals the header alone).
    pub fn grant(&self, r: &LeaseGrantResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("lease {:016x} granted with TTL({}s)", r.id, r.ttl),
                );
                Ok(())
            }
            Format::Fields => {
                id_ttl_fields(&mut o.out, &r.header, r.id, r.ttl);
                Ok(())
            }
            Format::Json => json_line(
                o,
                flat_header(&r.header)
                    .num_always("ID", r.id)
                    .num_always("TTL", r.ttl)
                    .text_always("Error", &r.error)
                    .end(),
            ),
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease revoke`.
    pub fn revoke(&self, id: i64, r: &oxcd_client::LeaseRevokeResponse) -> Result<(), CtlError> {
        if self.format == Format::Protobuf {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "marshal unsupported for type clientv3.LeaseRevokeResponse",
            ));
        }
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("lease {id:016x} revoked"));
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                Ok(())
            }
            Format::Json => json_line(o, json::header_only(&r.header)),
            Format::Protobuf | Format::Table => Err(Unsupported),
        })
    }

    /// One keepalive answer.
    pub fn keep_alive(&self, r: &LeaseKeepAliveResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("lease {:016x} keepalived with TTL({})", r.id, r.ttl),
                );
                Ok(())
            }
            Format::Fields => {
                id_ttl_fields(&mut o.out, &r.header, r.id, r.ttl);
                Ok(())
            }
            Format::Json => json_line(
                o,
                flat_header(&r.header)
                    .num_always("ID", r.id)
                    .num_always("TTL", r.ttl)
                    .end(),
            ),
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease timetolive`.
    pub fn time_to_live(&self, r: &LeaseTimeToLiveResponse, keys: bool) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                if r.granted_ttl == 0 && r.ttl == -1 {
                    return {
                        line(&mut o.out, &format!("lease {:016x} already expired", r.id));
                        Ok(())
                    };
                }
                let mut txt = format!(
                    "lease {:016x} granted with TTL({}s), remaining({}s)",
                    r.id, r.granted_ttl, r.ttl
                )
                .into_bytes();
                if keys {
                    txt.extend_from_slice(b", attached keys([");
                    txt.extend_from_slice(&r.keys.join(&b' '));
                    txt.extend_from_slice(b"])");
                }
                o.out.extend_from_slice(&txt);
                o.out.push(b'\n');
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                line(&mut o.out, &format!("\"ID\" : {}", r.id));
                line(&mut o.out, &format!("\"TTL\" : {}", r.ttl));
                line(&mut o.out, &format!("\"GrantedTTL\" : {}", r.granted_ttl));
                for k in &r.keys {
                    line(&mut o.out, &format!("\"Key\" : {}", quote(k)));
                }
                Ok(())
            }
            Format::Json => {
                let keys = if r.keys.is_empty() {
                    "null".to_string()
                } else {
                    json::array(
                        r.keys
                            .iter()
                            .map(|k| format!("\"{}\"", json::b64(k)))
                            .collect(),
                    )
                };
                json_line(
                    o,
                    flat_header(&r.header)
                        .num_always("id", r.id)
                        .num_always("ttl", r.ttl)
                        .num_always("granted-ttl", r.granted_ttl)
                        .raw("keys", &keys)
                        .end(),
                )
            }
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease list`.
    pub fn leases(&self, r: &LeaseLeasesResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("found {} leases", r.leases.len()));
                for l in &r.leases {
                    line(&mut o.out, &format!("{:016x}", l.id));
                }
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for l in &r.leases {
                    line(&mut o.out, &format!("\"ID\" : {}", l.id));
                }
                Ok(())
            }
            Format::Json => {
                let leases = r
                    .leases
                    .iter()
                    .map(|l| Obj::new().num_always("id", l.id).end())
                    .collect();
                json_line(
                    o,
                    flat_header(&r.header)
                        .raw("leases", &json::array(leases))
                        .end(),
                )
            }
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }
}

/// The fields of a grant or keepalive answer: the header, then the lease's ID and TTL.
fn id_ttl_fields(
    out: &mut Vec<u8>,
    header: &Option<oxcd_proto::etcdserverpb::ResponseHeader>,
    id: i64,
    ttl: i64,
) {
    hdr(out, header);
    line(out, &format!("\"ID\" : {id}"));
    line(out, &format!("\"TTL\" : {ttl}"));
}
