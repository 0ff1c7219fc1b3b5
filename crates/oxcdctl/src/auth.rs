//! `auth enable|disable`, `user add|delete|get|list|passwd|grant-role|revoke-role` and
//! `role add|delete|get|list|grant-permission|revoke-permission`, as etcdctl 3.4 runs
//! them (auth enable creates the root role and grants it to root when it is missing).
//! Passwords etcdctl would prompt for on a terminal are read from stdin lines.

use std::io::BufRead;

use clap::{ArgAction, Args, Subcommand};
use oxcd_client::{prefix_end, Code, PermissionType};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::print::println;

/// `auth <enable or disable>`.
#[derive(Debug, Clone, Subcommand)]
pub enum AuthCommand {
    /// Enables authentication
    Enable(Rest),
    /// Disables authentication
    Disable(Rest),
}

/// `user <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Adds a new user
    Add(UserAddArgs),
    /// Deletes a user
    Delete(Rest),
    /// Gets detailed information of a user
    Get(UserGetArgs),
    /// Lists all users
    List(Rest),
    /// Changes password of user
    Passwd(PasswdArgs),
    /// Grants a role to a user
    GrantRole(Rest),
    /// Revokes a role from a user
    RevokeRole(Rest),
}

/// `role <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum RoleCommand {
    /// Adds a new role
    Add(Rest),
    /// Deletes a role
    Delete(Rest),
    /// Gets detailed information of a role
    Get(Rest),
    /// Lists all roles
    List(Rest),
    /// Grants a key to a role
    GrantPermission(PermArgs),
    /// Revokes a key from a role
    RevokePermission(PermArgs),
}

/// Positional arguments only.
#[derive(Debug, Clone, Args)]
pub struct Rest {
    /// arguments
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `user add <user name or user:password> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    /// Read password from stdin instead of interactive terminal
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true")]
    pub interactive: bool,
    /// Supply password from the command line flag
    #[arg(long = "new-user-password", default_value = "")]
    pub new_user_password: String,
    /// Create a user without password (CN based auth only)
    #[arg(long = "no-password")]
    pub no_password: bool,
    /// <user name or user:password>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `user get <user name> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UserGetArgs {
    /// Show permissions of roles granted to the user
    #[arg(long)]
    pub detail: bool,
    /// <user name>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `user passwd <user name> [options]`.
#[derive(Debug, Clone, Args)]
pub struct PasswdArgs {
    /// If true, read password from stdin instead of interactive terminal
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true")]
    pub interactive: bool,
    /// <user name>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `role grant-permission [options] <role name> <permission type> <key> [endkey]` and
/// `role revoke-permission <role name> <key> [endkey]`.
#[derive(Debug, Clone, Args)]
pub struct PermArgs {
    /// a prefix permission
    #[arg(long)]
    pub prefix: bool,
    /// a permission of keys that are greater than or equal to the given key using byte
    /// compare
    #[arg(long = "from-key")]
    pub from_key: bool,
    /// arguments
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

fn failed(e: oxcd_client::Error) -> CtlError {
    CtlError::client(exit::ERROR, &e)
}

/// Runs an `auth` subcommand.
pub async fn auth(g: &GlobalFlags, c: AuthCommand) -> Result<(), CtlError> {
    match c {
        AuthCommand::Enable(a) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args(
                    "auth enable command does not accept any arguments",
                ));
            }
            g.printer()?;
            let auth = g.client().await?.auth();
            loop {
                match auth.auth_enable().await {
                    Ok(_) => break,
                    Err(e)
                        if e.code() == Some(Code::FailedPrecondition)
                            && e.status().map(|s| s.message())
                                == Some("etcdserver: root user does not have root role") =>
                    {
                        auth.role_add("root").await.map_err(failed)?;
                        auth.user_grant_role("root", "root").await.map_err(failed)?;
                    }
                    Err(e) => return Err(failed(e)),
                }
            }
            println("Authentication Enabled");
            Ok(())
        }
        AuthCommand::Disable(a) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args(
                    "auth disable command does not accept any arguments",
                ));
            }
            g.printer()?;
            g.client()
                .await?
                .auth()
                .auth_disable()
                .await
                .map_err(failed)?;
            println("Authentication Disabled");
            Ok(())
        }
    }
}

/// One line of stdin without its newline (`fmt.Scanf("%s")`: the first word).
fn read_word() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.split_whitespace().next().unwrap_or("").to_string()
}

/// etcdctl's readPasswordInteractive, on stdin lines: asked twice, must match.
fn read_password_twice(name: &str) -> Result<String, CtlError> {
    crate::print::write_all(&crate::print::Out {
        out: format!("Password of {name}: ").into_bytes(),
        err: Vec::new(),
    });
    let first = read_word();
    if first.is_empty() {
        return Err(CtlError::bad_args("empty password"));
    }
    crate::print::write_all(&crate::print::Out {
        out: format!("Type password of {name} again for confirmation: ").into_bytes(),
        err: Vec::new(),
    });
    if read_word() != first {
        return Err(CtlError::bad_args("given passwords are different"));
    }
    Ok(first)
}

fn one<'a>(args: &'a [String], msg: &str) -> Result<&'a str, CtlError> {
    match args {
        [one] => Ok(one),
        _ => Err(CtlError::bad_args(msg)),
    }
}

/// Runs a `user` subcommand.
pub async fn user(g: &GlobalFlags, c: UserCommand) -> Result<(), CtlError> {
    match c {
        UserCommand::Add(a) => {
            let arg = one(
                &a.args,
                "user add command requires user name as its argument",
            )?;
            let (name, password) = if a.no_password {
                (arg.to_string(), String::new())
            } else if !a.new_user_password.is_empty() {
                (arg.to_string(), a.new_user_password.clone())
            } else if let Some((u, p)) = arg.split_once(':') {
                if u.is_empty() {
                    return Err(CtlError::bad_args("empty user name is not allowed"));
                }
                (u.to_string(), p.to_string())
            } else if a.interactive {
                (arg.to_string(), read_password_twice(arg)?)
            } else {
                (arg.to_string(), read_word())
            };
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .user_add_with_options(&name, &password, a.no_password)
                .await
                .map_err(failed)?;
            printer.header_response(format!("User {name} created").as_bytes(), &r.header, &r)
        }
        UserCommand::Delete(a) => {
            let name = one(
                &a.args,
                "user delete command requires user name as its argument",
            )?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .user_delete(name)
                .await
                .map_err(failed)?;
            printer.header_response(format!("User {name} deleted").as_bytes(), &r.header, &r)
        }
        UserCommand::Get(a) => {
            let name = one(
                &a.args,
                "user get command requires user name as its argument",
            )?;
            let printer = g.printer()?;
            let auth = g.client().await?.auth();
            let r = auth.user_get(name).await.map_err(failed)?;
            if !a.detail {
                return printer.user_get(name, &r);
            }
            println(&format!("User: {name}"));
            for role in &r.roles {
                println("");
                let rr = auth.role_get(role).await.map_err(failed)?;
                printer.role_get(role, &rr)?;
            }
            Ok(())
        }
        UserCommand::List(a) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args(
                    "user list command requires no arguments",
                ));
            }
            let printer = g.printer()?;
            let r = g.client().await?.auth().user_list().await.map_err(failed)?;
            printer.user_list(&r)
        }
        UserCommand::Passwd(a) => {
            let name = one(
                &a.args,
                "user passwd command requires user name as its argument",
            )?;
            let password = if a.interactive {
                read_password_twice(name)?
            } else {
                read_word()
            };
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .user_change_password(name, &password)
                .await
                .map_err(failed)?;
            printer.header_response(b"Password updated", &r.header, &r)
        }
        UserCommand::GrantRole(a) => {
            let [user, role] = a.args.as_slice() else {
                return Err(CtlError::bad_args(
                    "user grant command requires user name and role name as its argument",
                ));
            };
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .user_grant_role(user, role)
                .await
                .map_err(failed)?;
            printer.header_response(
                format!("Role {role} is granted to user {user}").as_bytes(),
                &r.header,
                &r,
            )
        }
        UserCommand::RevokeRole(a) => {
            let [user, role] = a.args.as_slice() else {
                return Err(CtlError::bad_args(
                    "user revoke-role requires user name and role name as its argument",
                ));
            };
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .user_revoke_role(user, role)
                .await
                .map_err(failed)?;
            printer.header_response(
                format!("Role {role} is revoked from user {user}").as_bytes(),
                &r.header,
                &r,
            )
        }
    }
}

/// The key and range end of a permission (etcdctl's permRange).
fn perm_range(a: &PermArgs, args: &[String]) -> Result<(Vec<u8>, Vec<u8>), CtlError> {
    let key = args[0].as_bytes();
    if key.is_empty() {
        if a.prefix && a.from_key {
            return Err(CtlError::bad_args(
                "--from-key and --prefix flags are mutually exclusive",
            ));
        }
        let end = if a.prefix || a.from_key {
            vec![0]
        } else {
            Vec::new()
        };
        return Ok((vec![0], end));
    }
    let end = match args.get(1) {
        None if a.prefix && a.from_key => {
            return Err(CtlError::bad_args(
                "--from-key and --prefix flags are mutually exclusive",
            ))
        }
        None if a.prefix => prefix_end(key),
        None if a.from_key => vec![0],
        None => Vec::new(),
        Some(_) if a.prefix => {
            return Err(CtlError::bad_args(
                "unexpected endkey argument with --prefix flag",
            ))
        }
        Some(_) if a.from_key => {
            return Err(CtlError::bad_args(
                "unexpected endkey argument with --from-key flag",
            ))
        }
        Some(end) => end.clone().into_bytes(),
    };
    Ok((key.to_vec(), end))
}

/// Runs a `role` subcommand.
pub async fn role(g: &GlobalFlags, c: RoleCommand) -> Result<(), CtlError> {
    match c {
        RoleCommand::Add(a) => {
            let name = one(
                &a.args,
                "role add command requires role name as its argument",
            )?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .role_add(name)
                .await
                .map_err(failed)?;
            printer.header_response(format!("Role {name} created").as_bytes(), &r.header, &r)
        }
        RoleCommand::Delete(a) => {
            let name = one(
                &a.args,
                "role delete command requires role name as its argument",
            )?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .role_delete(name)
                .await
                .map_err(failed)?;
            printer.header_response(format!("Role {name} deleted").as_bytes(), &r.header, &r)
        }
        RoleCommand::Get(a) => {
            let name = one(
                &a.args,
                "role get command requires role name as its argument",
            )?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .auth()
                .role_get(name)
                .await
                .map_err(failed)?;
            printer.role_get(name, &r)
        }
        RoleCommand::List(a) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args(
                    "role list command requires no arguments",
                ));
            }
            let printer = g.printer()?;
            let r = g.client().await?.auth().role_list().await.map_err(failed)?;
            printer.role_list(&r)
        }
        RoleCommand::GrantPermission(a) => {
            if a.args.len() < 3 {
                return Err(CtlError::bad_args(
                    "role grant command requires role name, permission type, and key [endkey] as its argument",
                ));
            }
            let perm = match a.args[1].to_uppercase().as_str() {
                "READ" => PermissionType::Read,
                "WRITE" => PermissionType::Write,
                "READWRITE" => PermissionType::Readwrite,
                _ => {
                    return Err(CtlError::bad_args(format!(
                        "invalid permission type: {}",
                        a.args[1]
                    )))
                }
            };
            let (key, end) = perm_range(&a, &a.args[2..])?;
            let printer = g.printer()?;
            let name = &a.args[0];
            let r = g
                .client()
                .await?
                .auth()
                .role_grant_permission(name, perm, key, end)
                .await
                .map_err(failed)?;
            printer.header_response(format!("Role {name} updated").as_bytes(), &r.header, &r)
        }
        RoleCommand::RevokePermission(a) => {
            if a.args.len() < 2 {
                return Err(CtlError::bad_args(
                    "role revoke-permission command requires role name and key [endkey] as its argument",
                ));
            }
            let (key, end) = perm_range(&a, &a.args[1..])?;
            let printer = g.printer()?;
            let role = &a.args[0];
            let r = g
                .client()
                .await?
                .auth()
                .role_revoke_permission(role, key, end.clone())
                .await
                .map_err(failed)?;
            // etcdctl prints the key as given and the computed range end.
            let given = a.args[1].as_bytes();
            let mut line = Vec::new();
            if end.is_empty() {
                line.extend_from_slice(b"Permission of key ");
                line.extend_from_slice(given);
                line.extend_from_slice(format!(" is revoked from role {role}").as_bytes());
            } else if end != [0] {
                line.extend_from_slice(b"Permission of range [");
                line.extend_from_slice(given);
                line.extend_from_slice(b", ");
                line.extend_from_slice(&end);
                line.extend_from_slice(format!(") is revoked from role {role}").as_bytes());
            } else {
                line.extend_from_slice(b"Permission of range [");
                line.extend_from_slice(given);
                line.extend_from_slice(
                    format!(", <open ended> is revoked from role {role}").as_bytes(),
                );
            }
            printer.header_response(&line, &r.header, &r)
        }
    }
}
