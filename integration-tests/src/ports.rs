//! Free loopback port selection.
//!
//! A port is found by binding `127.0.0.1:0` and releasing it. Another process may grab the port
//! in between, so callers retry startup with fresh ports when a server fails to bind. Within one
//! test process, ports already handed out are never handed out again.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use crate::error::{HarnessError, Result};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static SET: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Returns a loopback TCP port that was free a moment ago and not yet returned by this process.
pub fn free_port() -> Result<u16> {
    for _ in 0..64 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| HarnessError::io("bind 127.0.0.1:0", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError::io("local_addr", e))?
            .port();
        drop(listener);
        let mut set = handed_out().lock().unwrap_or_else(|p| p.into_inner());
        if set.insert(port) {
            return Ok(port);
        }
    }
    Err(HarnessError::Timeout("finding a free port".into()))
}

/// Returns two distinct free ports (client, peer).
pub fn free_port_pair() -> Result<(u16, u16)> {
    let a = free_port()?;
    let b = free_port()?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let (a, b) = free_port_pair().expect("ports");
        assert_ne!(a, b);
        let l = TcpListener::bind(("127.0.0.1", a)).expect("port a is free");
        drop(l);
    }
}
