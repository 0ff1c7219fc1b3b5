//! Member replacement: a member's machine is lost and an empty one takes its place, as an
//! operator does it with etcdctl (`member remove`, wipe, `member add`, start with
//! `--initial-cluster-state existing`).

use std::time::{Duration, Instant};

use super::{parse_member_add, Cluster, MemberAdded, MEMBER_STARTUP_TIMEOUT};
use crate::error::{HarnessError, Result};

/// How long the remaining members may take to elect a leader after a removal (the removed
/// member may have been the leader).
const LEADER_AFTER_REMOVAL: Duration = Duration::from_secs(10);

impl Cluster {
    /// Replaces member `i`: removes it from the cluster (its process is reaped), deletes its
    /// data directory, adds a new member with the same name and peer URL (it gets a new ID),
    /// and starts it empty with `--initial-cluster-state existing` on the same ports; waits
    /// (bounded by [`MEMBER_STARTUP_TIMEOUT`]) until it serves. The new member catches up
    /// from the leader.
    pub fn replace_member(&mut self, i: usize) -> Result<()> {
        self.remove_member(i)?;
        let data = self.members[i].data_dir();
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .map_err(|e| HarnessError::io("remove the replaced member's data", e))?;
        }
        // A member add proposed while the remaining members have no leader waits for one
        // and can outlive etcdctl's command timeout.
        self.wait_leader(LEADER_AFTER_REMOVAL)?;
        let (added, output) = self.add_same_member(i)?;
        let m = &mut self.members[i];
        m.initial_cluster = added.initial_cluster;
        m.initial_state = "existing".to_string();
        m.removed = false;
        m.learner = false;
        m.id = Some(added.id);
        m.note(&format!(
            "replaced by an empty member {:x}; member add output:\n{}",
            added.id,
            output.trim()
        ));
        self.spawn(i)?;
        self.wait_serving(i, Instant::now() + MEMBER_STARTUP_TIMEOUT)
    }

    /// `etcdctl member add <name of i> --peer-urls=<peer URL of i>`. If the command times out
    /// the add may still have been applied: the member list then holds an unstarted member
    /// with that peer URL, which is taken (with the initial cluster rebuilt from the list).
    fn add_same_member(&mut self, i: usize) -> Result<(MemberAdded, String)> {
        let name = self.members[i].name.clone();
        let peer_url = self.members[i].peer_url();
        let peer_flag = format!("--peer-urls={peer_url}");
        let err = match self.retry_reconfig(&["member", "add", &name, &peer_flag]) {
            Ok(out) => {
                let added = parse_member_add(&out.stdout).ok_or_else(|| {
                    HarnessError::Json(format!("unexpected member add output: {}", out.stdout))
                })?;
                return Ok((added, out.stdout));
            }
            Err(e) => e,
        };
        self.wait_leader(LEADER_AFTER_REMOVAL)?;
        let list = self.member_list()?;
        let Some(mine) = list.iter().find(|m| m.peer_urls.contains(&peer_url)) else {
            return Err(err);
        };
        let initial_cluster = list
            .iter()
            .flat_map(|m| {
                let n = if m.id == mine.id {
                    name.clone()
                } else {
                    m.name.clone()
                };
                m.peer_urls.iter().map(move |u| format!("{n}={u}"))
            })
            .collect::<Vec<_>>()
            .join(",");
        let note = format!("member add timed out ({err}) but was applied: {initial_cluster}");
        Ok((
            MemberAdded {
                id: mine.id,
                initial_cluster,
            },
            note,
        ))
    }
}
