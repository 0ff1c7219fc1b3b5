//! The printers of user and role responses.

use oxcd_client::proto::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleListResponse, AuthUserGetResponse, AuthUserListResponse,
};
use oxcd_client::{prefix_end, ResponseHeader};
use prost::Message;

use super::fields::{hdr, line};
use super::json::{self, Obj};
use super::{json_line, pb, perm_name, Format, Printer, Unsupported};
use crate::error::CtlError;
use crate::gotext::quote;

impl Printer {
    /// A response printed as one line in the simple format and as its header otherwise
    /// (role add/delete/grant/revoke, user add/delete/passwd/grant/revoke).
    pub fn header_response(
        &self,
        simple_line: &[u8],
        header: &Option<ResponseHeader>,
        encoded: &impl Message,
    ) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                o.out.extend_from_slice(simple_line);
                o.out.push(b'\n');
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, header);
                Ok(())
            }
            Format::Json => json_line(o, json::header_only(header)),
            Format::Protobuf => pb(o, encoded),
            Format::Table => Err(Unsupported),
        })
    }

    /// `role get`.
    pub fn role_get(&self, role: &str, r: &AuthRoleGetResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("Role {role}"));
                for (title, kinds) in [("KV Read:", [0, 2]), ("KV Write:", [1, 2])] {
                    line(&mut o.out, title);
                    for p in r.perm.iter().filter(|p| kinds.contains(&p.perm_type)) {
                        o.out.push(b'\t');
                        if p.range_end.is_empty() {
                            o.out.extend_from_slice(&p.key);
                        } else {
                            o.out.push(b'[');
                            o.out.extend_from_slice(&p.key);
                            if p.range_end != [0] {
                                o.out.extend_from_slice(b", ");
                                o.out.extend_from_slice(&p.range_end);
                                o.out.push(b')');
                            } else {
                                o.out.extend_from_slice(b", <open ended>");
                            }
                            if prefix_end(&p.key) == p.range_end {
                                o.out.extend_from_slice(b" (prefix ");
                                o.out.extend_from_slice(&p.key);
                                o.out.push(b')');
                            }
                        }
                        o.out.push(b'\n');
                    }
                }
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for p in &r.perm {
                    line(
                        &mut o.out,
                        &format!("\"PermType\" :  {}", perm_name(p.perm_type)),
                    );
                    line(&mut o.out, &format!("\"Key\" : {}", quote(&p.key)));
                    line(
                        &mut o.out,
                        &format!("\"RangeEnd\" : {}", quote(&p.range_end)),
                    );
                }
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .arr("perm", r.perm.iter().map(json::permission).collect())
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// `role list`.
    pub fn role_list(&self, r: &AuthRoleListResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                r.roles.iter().for_each(|n| line(&mut o.out, n));
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                let mut l = String::from("\"Roles\" :");
                for n in &r.roles {
                    l.push(' ');
                    l.push_str(&quote(n.as_bytes()));
                }
                {
                    line(&mut o.out, &l);
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("roles", &r.roles)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// `user get` (without `--detail`).
    pub fn user_get(&self, name: &str, r: &AuthUserGetResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("User: {name}"));
                let mut l = String::from("Roles:");
                for role in &r.roles {
                    l.push(' ');
                    l.push_str(role);
                }
                {
                    line(&mut o.out, &l);
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("roles", &r.roles)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }

    /// `user list`.
    pub fn user_list(&self, r: &AuthUserListResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                r.users.iter().for_each(|n| line(&mut o.out, n));
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("users", &r.users)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }
}
