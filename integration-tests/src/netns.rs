//! [`NetLab`]: one network namespace per cluster member, joined by a bridge in the root
//! namespace, so the robustness suite can cut members off from each other (a partition)
//! while clients on the host still reach every member.
//!
//! Layout: bridge `oxb<lab>` with `10.231.<lab>.254/24` in the root namespace; member `i`
//! lives in namespace `oxcd<lab>m<i>` with `eth0 = 10.231.<lab>.<i+1>/24`, its peer end
//! `oxv<lab>m<i>` on the bridge. A partition is a set of blackhole routes inside the
//! namespaces (member to member only; the host's address stays reachable).
//!
//! # Invariants
//! - NEEDS ROOT AND `ip` (iproute2); [`NetLab::available`] says whether this machine can.
//! - EVERYTHING A LAB CREATES IS DELETED WHEN IT IS DROPPED (namespaces, veths, bridge).
//!   A lab never takes a number whose bridge exists (another run's); namespaces left by a
//!   killed run without its bridge are removed by the next lab with that number.
//! - ADDRESSES ARE ONLY EVER THE LAB'S OWN: `10.231.<lab>.0/24`, inside namespaces this
//!   process created.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{HarnessError, Result};

/// The namespaces and bridge of one cluster.
#[derive(Debug)]
pub struct NetLab {
    lab: u32,
    members: usize,
    blackholes: Vec<(usize, usize)>,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| HarnessError::io("run ip", e))?;
    if !out.status.success() {
        return Err(HarnessError::Network(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

impl NetLab {
    /// Whether namespaces can be made here (root, and `ip netns` works).
    pub fn available() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        root && Command::new("ip")
            .args(["netns", "list"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Creates a lab for `members` members.
    pub fn create(members: usize) -> Result<NetLab> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let first = std::process::id() + NEXT.fetch_add(1, Ordering::SeqCst) * 7;
        // A lab number whose bridge does not exist yet: another run may be using the others.
        let lab = (0..200)
            .map(|k| (first + k) % 200 + 20)
            .find(|n| !Self::bridge_exists(*n))
            .ok_or_else(|| HarnessError::Network("no free lab number".into()))?;
        let me = NetLab {
            lab,
            members,
            blackholes: Vec::new(),
        };
        // Leftovers of a killed run with the same number (its bridge is gone).
        me.remove();
        let bridge = me.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", me.host_ip()),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..members {
            let ns = me.namespace(i);
            let outer = me.veth(i);
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &outer, "master", &bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", me.member_ip(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(me)
    }

    fn bridge_exists(lab: u32) -> bool {
        Command::new("ip")
            .args(["link", "show", &format!("oxb{lab}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn bridge(&self) -> String {
        format!("oxb{}", self.lab)
    }

    fn veth(&self, i: usize) -> String {
        format!("oxv{}m{i}", self.lab)
    }

    /// Member `i`'s namespace.
    pub fn namespace(&self, i: usize) -> String {
        format!("oxcd{}m{i}", self.lab)
    }

    /// Member `i`'s address.
    pub fn member_ip(&self, i: usize) -> String {
        format!("10.231.{}.{}", self.lab, i + 1)
    }

    /// The host's address on the bridge (where clients connect from).
    pub fn host_ip(&self) -> String {
        format!("10.231.{}.254", self.lab)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members
    }

    /// Whether the lab has no members.
    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// Cuts member `i` off from every other member (both directions); clients still reach
    /// it. Replaces any earlier partition.
    pub fn isolate(&mut self, i: usize) -> Result<()> {
        self.heal();
        for j in (0..self.members).filter(|&j| j != i) {
            for (from, to) in [(i, j), (j, i)] {
                ip(&[
                    "-n",
                    &self.namespace(from),
                    "route",
                    "add",
                    "blackhole",
                    &format!("{}/32", self.member_ip(to)),
                ])?;
                self.blackholes.push((from, to));
            }
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        for (from, to) in std::mem::take(&mut self.blackholes) {
            ip_quiet(&[
                "-n",
                &self.namespace(from),
                "route",
                "del",
                "blackhole",
                &format!("{}/32", self.member_ip(to)),
            ]);
        }
    }

    fn remove(&self) {
        for i in 0..8 {
            ip_quiet(&["netns", "del", &self.namespace(i)]);
            ip_quiet(&["link", "del", &self.veth(i)]);
        }
        ip_quiet(&["link", "del", &self.bridge()]);
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        self.remove();
    }
}
