//! [`PeerProxy`]: a fault-injecting TCP proxy in front of every member's peer listener, so the
//! robustness suite can partition a cluster without root (where [`crate::netns::NetLab`]
//! cannot be used).
//!
//! Layout: member `i` listens for peers on its real port and advertises the proxy's port
//! (`--initial-advertise-peer-urls`, `--initial-cluster`), so every peer connection to `i`
//! goes through `i`'s proxy port. The proxy learns which member opened a connection from
//! the kernel: the accepted socket's remote port is the connecting socket's local port,
//! `/proc/net/tcp` maps it to a socket inode, and the member whose `/proc/<pid>/fd` holds that
//! inode is the source. A partition is a set of blocked (source, destination) pairs: their
//! live connections are cut and new ones are held open without forwarding a byte (a
//! blackhole) until the partition heals, then closed so the member reconnects.
//!
//! # Invariants
//! - LINUX ONLY (`/proc`), SAME USER: the proxy reads `/proc/<pid>/fd` of the members it was
//!   told about ([`PeerProxy::set_pid`]), which needs no privilege for our own children.
//! - A CONNECTION WHOSE SOURCE CANNOT BE FOUND IS FORWARDED AND COUNTED
//!   ([`PeerProxy::unidentified`]); a test can assert the count stays 0. Its destination is
//!   always known, so isolating that destination still cuts it.
//! - EVERYTHING STOPS ON DROP: the listeners close, every connection is shut down, and the
//!   acceptor threads are joined (their loops poll a stop flag every 20 ms).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{HarnessError, Result};

const POLL: Duration = Duration::from_millis(20);

/// One live forwarded connection.
struct Link {
    id: u64,
    src: Option<usize>,
    dst: usize,
    inbound: TcpStream,
    outbound: TcpStream,
}

impl Link {
    fn cut(&self) {
        let _ = self.inbound.shutdown(Shutdown::Both);
        let _ = self.outbound.shutdown(Shutdown::Both);
    }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    pids: Mutex<Vec<Option<u32>>>,
    blocked: Mutex<HashSet<(usize, usize)>>,
    links: Mutex<Vec<Link>>,
    next_id: AtomicU64,
    identified: AtomicUsize,
    unidentified: AtomicUsize,
    blackholed: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn is_blocked(&self, src: Option<usize>, dst: usize) -> bool {
        src.is_some_and(|s| lock(&self.blocked).contains(&(s, dst)))
    }

    fn is_cut(&self, link: &Link) -> bool {
        self.stop.load(Ordering::Acquire) || self.is_blocked(link.src, link.dst)
    }
}

/// The proxy ports of one cluster (see the module docs).
pub struct PeerProxy {
    shared: Arc<Shared>,
    ports: Vec<(u16, u16)>,
    acceptors: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for PeerProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerProxy")
            .field("ports", &self.ports)
            .field("blocked", &*lock(&self.shared.blocked))
            .finish()
    }
}

impl PeerProxy {
    /// Starts one proxy per entry of `targets` (member `i`'s real peer port): each listens on
    /// a free loopback port ([`PeerProxy::port`]) and forwards to `127.0.0.1:targets[i]`.
    pub fn start(targets: &[u16]) -> Result<PeerProxy> {
        let shared = Arc::new(Shared {
            pids: Mutex::new(vec![None; targets.len()]),
            ..Shared::default()
        });
        let mut proxy = PeerProxy {
            shared,
            ports: Vec::new(),
            acceptors: Vec::new(),
        };
        for (dst, &target) in targets.iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0")
                .map_err(|e| HarnessError::io("bind a peer proxy port", e))?;
            listener
                .set_nonblocking(true)
                .map_err(|e| HarnessError::io("make the peer proxy non-blocking", e))?;
            let port = listener
                .local_addr()
                .map_err(|e| HarnessError::io("peer proxy address", e))?
                .port();
            proxy.ports.push((port, target));
            let shared = proxy.shared.clone();
            proxy.acceptors.push(std::thread::spawn(move || {
                accept_loop(&listener, port, dst, target, &shared);
            }));
        }
        Ok(proxy)
    }

    /// The port member `i` advertises to its peers.
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i].0
    }

    /// Records member `i`'s process ID (after every start), so its connections are known.
    pub fn set_pid(&self, i: usize, pid: Option<u32>) {
        if let Some(slot) = lock(&self.shared.pids).get_mut(i) {
            *slot = pid;
        }
    }

    /// Cuts member `i` off from every other member, both directions, replacing any earlier
    /// partition.
    pub fn isolate(&self, i: usize) {
        let n = self.ports.len();
        {
            let mut blocked = lock(&self.shared.blocked);
            blocked.clear();
            for j in (0..n).filter(|&j| j != i) {
                blocked.insert((i, j));
                blocked.insert((j, i));
            }
        }
        // Live connections between the two sides are cut now; an unidentified one is cut
        // when it leads to the isolated member.
        lock(&self.shared.links)
            .iter()
            .filter(|l| self.shared.is_blocked(l.src, l.dst) || (l.src.is_none() && l.dst == i))
            .for_each(Link::cut);
    }

    /// Removes every partition.
    pub fn heal(&self) {
        lock(&self.shared.blocked).clear();
    }

    /// Connections whose source member was found.
    pub fn identified(&self) -> usize {
        self.shared.identified.load(Ordering::Relaxed)
    }

    /// Connections whose source member could not be found (forwarded anyway).
    pub fn unidentified(&self) -> usize {
        self.shared.unidentified.load(Ordering::Relaxed)
    }

    /// New connections held without forwarding because a partition blocked them.
    pub fn blackholed(&self) -> usize {
        self.shared.blackholed.load(Ordering::Relaxed)
    }
}

impl Drop for PeerProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for l in lock(&self.shared.links).iter() {
            l.cut();
        }
        for a in self.acceptors.drain(..) {
            let _ = a.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, port: u16, dst: usize, target: u16, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((inbound, from)) => {
                let shared = shared.clone();
                std::thread::spawn(move || serve(inbound, from, port, dst, target, &shared));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One accepted connection: identify, then blackhole or forward.
fn serve(
    inbound: TcpStream,
    from: SocketAddr,
    port: u16,
    dst: usize,
    target: u16,
    shared: &Shared,
) {
    let _ = inbound.set_nonblocking(false);
    let src = identify(from.port(), port, shared);
    let counter = if src.is_some() {
        &shared.identified
    } else {
        &shared.unidentified
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if shared.is_blocked(src, dst) {
        shared.blackholed.fetch_add(1, Ordering::Relaxed);
        while shared.is_blocked(src, dst) && !shared.stop.load(Ordering::Acquire) {
            std::thread::sleep(POLL);
        }
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    }
    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    };
    let _ = outbound.set_nodelay(true);
    let _ = inbound.set_nodelay(true);
    let (Ok(in2), Ok(out2)) = (inbound.try_clone(), outbound.try_clone()) else {
        return;
    };
    let link = Link {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        src,
        dst,
        inbound,
        outbound,
    };
    let id = link.id;
    if shared.is_cut(&link) {
        link.cut();
        return;
    }
    let (Ok(in3), Ok(out3)) = (link.inbound.try_clone(), link.outbound.try_clone()) else {
        return;
    };
    lock(&shared.links).push(link);
    let back = std::thread::spawn(move || pump(out2, in2));
    pump(in3, out3);
    let _ = back.join();
    let mut links = lock(&shared.links);
    if let Some(at) = links.iter().position(|l| l.id == id) {
        links.swap_remove(at).cut();
    }
}

/// Copies `from` to `to` until either side closes, then shuts both down.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// The member whose process owns the loopback socket `local_port -> proxy_port`.
fn identify(local_port: u16, proxy_port: u16, shared: &Shared) -> Option<usize> {
    // The connecting side's socket is in the table by the time accept returns; a few
    // retries cover a process that is being replaced as we look.
    for _ in 0..3 {
        if let Some(inode) = socket_inode(local_port, proxy_port) {
            let pids = lock(&shared.pids).clone();
            if let Some(i) = pids
                .iter()
                .position(|p| p.is_some_and(|pid| owns_socket(pid, inode)))
            {
                return Some(i);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The inode of the TCP socket whose local port is `local` and remote port is `remote`.
fn socket_inode(local: u16, remote: u16) -> Option<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let port = |addr: &str| {
                    addr.rsplit(':')
                        .next()
                        .and_then(|p| u16::from_str_radix(p, 16).ok())
                };
                (f.len() > 9 && port(f[1]) == Some(local) && port(f[2]) == Some(remote))
                    .then(|| f[9].parse().ok())
                    .flatten()
            })
        })
}

fn owns_socket(pid: u32, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str().to_string_lossy() == want)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> (u16, JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        (port, h)
    }

    #[test]
    fn forwards_and_identifies_this_process_then_cuts_on_isolation() {
        let (target, echo) = echo_server();
        // Member 0 is the echo server; member 1 is this test process.
        let proxy = PeerProxy::start(&[target, 1]).unwrap();
        proxy.set_pid(1, Some(std::process::id()));
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port(0))).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!((proxy.identified(), proxy.unidentified()), (1, 0));
        // Isolating either end cuts the live connection.
        proxy.isolate(0);
        let mut rest = Vec::new();
        let cut = c.read_to_end(&mut rest);
        assert!(cut.is_err() || rest.is_empty(), "connection still open");
        // A new connection from the blocked side is held without forwarding.
        let mut held = TcpStream::connect(("127.0.0.1", proxy.port(0))).unwrap();
        held.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        held.write_all(b"lost").unwrap();
        let mut one = [0u8; 1];
        assert!(
            held.read(&mut one).is_err(),
            "a blackholed connection answered"
        );
        // Healing closes the held connection so the member reconnects.
        proxy.heal();
        held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(held.read(&mut one).unwrap_or(0), 0);
        assert!(proxy.blackholed() >= 1);
        drop(proxy);
        let _ = echo.join();
    }

    #[test]
    fn an_unknown_source_is_forwarded_and_counted() {
        let (target, echo) = echo_server();
        let proxy = PeerProxy::start(&[target]).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port(0))).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        assert_eq!((proxy.identified(), proxy.unidentified()), (0, 1));
        drop(c);
        drop(proxy);
        let _ = echo.join();
    }
}
