//! [`AlarmStore`]: raised alarms (NOSPACE, CORRUPT), persisted in `Column::Alarm` and
//! changed only by applying an `AlarmRequest` ([`apply`]), so every member agrees on them.

use std::collections::BTreeSet;

use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmMember, AlarmRequest, AlarmResponse, AlarmType,
};
use parking_lot::RwLock;

use crate::error::ServerError;

/// The raised alarms, as (member ID, alarm type) pairs.
#[derive(Debug, Default)]
pub struct AlarmStore {
    raised: RwLock<BTreeSet<(u64, i32)>>,
}

/// The `Column::Alarm` key of an alarm: member ID (u64 BE) then alarm type (i32 BE).
pub fn key(member: u64, alarm: i32) -> Vec<u8> {
    let mut k = member.to_be_bytes().to_vec();
    k.extend_from_slice(&alarm.to_be_bytes());
    k
}

impl AlarmStore {
    /// Loads the alarms persisted in `backend`.
    pub fn load(backend: &dyn Backend) -> Result<Self, ServerError> {
        let mut raised = BTreeSet::new();
        for item in backend.scan(Column::Alarm, &[], None, false)? {
            let (k, _) = item?;
            if k.len() == 12 {
                let member = u64::from_be_bytes(k[..8].try_into().unwrap_or_default());
                let alarm = i32::from_be_bytes(k[8..].try_into().unwrap_or_default());
                raised.insert((member, alarm));
            }
        }
        Ok(Self {
            raised: RwLock::new(raised),
        })
    }

    /// Replaces the raised alarms with those persisted in `backend` (after a snapshot).
    pub fn reload(&self, backend: &dyn Backend) -> Result<(), ServerError> {
        let fresh = Self::load(backend)?;
        *self.raised.write() = fresh.raised.into_inner();
        Ok(())
    }

    /// Whether a NOSPACE alarm is raised on any member.
    pub fn has_nospace(&self) -> bool {
        self.raised
            .read()
            .iter()
            .any(|(_, a)| *a == AlarmType::Nospace as i32)
    }

    /// Whether a CORRUPT alarm is raised on any member.
    pub fn has_corrupt(&self) -> bool {
        self.raised
            .read()
            .iter()
            .any(|(_, a)| *a == AlarmType::Corrupt as i32)
    }

    /// Whether any alarm is raised.
    pub fn any(&self) -> bool {
        !self.raised.read().is_empty()
    }

    /// Alarms of type `alarm` (all types for NONE).
    pub fn list(&self, _member: u64, alarm: i32) -> Vec<AlarmMember> {
        self.raised
            .read()
            .iter()
            .filter(|(_, a)| alarm == AlarmType::None as i32 || *a == alarm)
            .map(|(m, a)| AlarmMember {
                member_id: *m,
                alarm: *a,
            })
            .collect()
    }

    /// Raises an alarm (idempotent); returns it.
    pub fn activate(&self, member: u64, alarm: i32, batch: &mut WriteBatch) -> Vec<AlarmMember> {
        if alarm == AlarmType::None as i32 {
            return Vec::new();
        }
        self.raised.write().insert((member, alarm));
        batch.put(Column::Alarm, key(member, alarm), Vec::new());
        vec![AlarmMember {
            member_id: member,
            alarm,
        }]
    }

    /// Clears an alarm; returns it if it was raised.
    pub fn deactivate(&self, member: u64, alarm: i32, batch: &mut WriteBatch) -> Vec<AlarmMember> {
        if self.raised.write().remove(&(member, alarm)) {
            batch.delete(Column::Alarm, key(member, alarm));
            vec![AlarmMember {
                member_id: member,
                alarm,
            }]
        } else {
            Vec::new()
        }
    }
}

/// Applies an AlarmRequest (list, activate or deactivate).
pub(super) fn apply(
    alarms: &AlarmStore,
    kv: &oxcd_mvcc::KvStore,
    a: &AlarmRequest,
    batch: &mut WriteBatch,
) -> AlarmResponse {
    let action = AlarmAction::try_from(a.action).unwrap_or(AlarmAction::Get);
    let list = match action {
        AlarmAction::Get => alarms.list(a.member_id, a.alarm),
        AlarmAction::Activate => alarms.activate(a.member_id, a.alarm, batch),
        AlarmAction::Deactivate => alarms.deactivate(a.member_id, a.alarm, batch),
    };
    AlarmResponse {
        header: super::kv::rev_header(kv.current_revision()),
        alarms: list,
    }
}
