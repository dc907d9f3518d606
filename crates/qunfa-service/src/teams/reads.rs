//! Team read receipts: `msg/markReadTeamMsg`, `team/getMarkReadInfo`. A team message sent with
//! `markRead=1` costs nothing more at send time: its readers are one bitmap (written by the
//! tracker), and who has not read it is its stored audience (the members at its msgid, less
//! the sender) minus that bitmap.

use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::{Message, MsgKind};
use qunfa_core::store::internal;
use qunfa_core::team::Tid;
use qunfa_core::{ApiError, Code};
use roaring::RoaringBitmap;

use super::messages::reads_off;
use super::{not_in_team, team_not_found};
use crate::Services;

/// `team/getMarkReadInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadInfo {
    pub read: u64,
    pub unread: u64,
    /// With `snapshot=true`: the accids, in ordinal order.
    pub lists: Option<(Vec<Accid>, Vec<Accid>)>,
}

/// Whether `m` is a team message of `tid` that takes read receipts.
fn takes_receipts(m: &Message, tid: Tid) -> bool {
    m.kind == MsgKind::Team
        && m.tid == Some(tid)
        && m.msg_type != 5
        && m.mark_read
        && !m.antispam
        && m.recalled_ms.is_none()
}

impl Services {
    /// The accids of a bitmap's ordinals, in ordinal order: the team's current members from
    /// this node's copy of it, the others (former members) from the store.
    async fn accids_in(
        &self,
        app: AppId,
        b: &RoaringBitmap,
        team: &super::TeamSlot,
    ) -> Result<Vec<Accid>, ApiError> {
        let (mut known, missing) = {
            let st = team.read();
            let mut known: Vec<(u32, Accid)> = Vec::with_capacity(b.len() as usize);
            let mut missing = Vec::new();
            for o in b {
                match st.members.get(&o) {
                    Some(m) => known.push((o, m.accid.clone())),
                    None => missing.push(Ordinal(o)),
                }
            }
            (known, missing)
        };
        if !missing.is_empty() {
            for (o, a) in self.store.accids_of(app, missing).await? {
                known.push((o.0, a));
            }
            known.sort_by_key(|(o, _)| *o);
        }
        Ok(known.into_iter().map(|(_, a)| a).collect())
    }

    /// A team message's audience less its sender: who may read it.
    async fn readers_audience(&self, app: AppId, m: &Message) -> Result<RoaringBitmap, ApiError> {
        let mut bits = match m.audience_hash {
            Some(hash) => self
                .audiences
                .by_hash(self.store.as_ref(), app, hash)
                .await?
                .map(|b| (*b).clone())
                .unwrap_or_default(),
            None => RoaringBitmap::new(),
        };
        if let Some(o) = self.ordinal(app, &m.from).await? {
            bits.remove(o.0);
        }
        Ok(bits)
    }

    /// `msg/markReadTeamMsg`: `accid` (a member) read these messages of the team. Answers the
    /// msgids that could not be marked: not a `markRead=1` message of this team that `accid`
    /// received, or its own.
    pub async fn mark_read_team(
        &self,
        app: AppId,
        accid: &Accid,
        tid: Tid,
        msgids: &[MsgId],
    ) -> Result<Vec<MsgId>, ApiError> {
        if !self.team_rules.read_receipts {
            return Err(reads_off());
        }
        let o = self.registered(app, accid).await?;
        let slot = self.fresh_team(app, tid).await?;
        if slot.read().member(o).is_none() {
            return Err(not_in_team(accid, tid));
        }
        let mut failed = Vec::new();
        for &msgid in msgids {
            let ok = match self.store.message(app, msgid).await? {
                Some(m) if takes_receipts(&m, tid) && &m.from != accid => {
                    self.read(app, o, accid, msgid).await?
                }
                _ => false,
            };
            if !ok {
                failed.push(msgid);
            }
        }
        Ok(failed)
    }

    /// `team/getMarkReadInfo`: how many of a `markRead=1` team message's audience read it
    /// (with the accids, on request). Reports still in this node's memory count too.
    pub async fn mark_read_info(
        &self,
        app: AppId,
        tid: Tid,
        msgid: MsgId,
        from: &Accid,
        snapshot: bool,
    ) -> Result<ReadInfo, ApiError> {
        if !self.team_rules.read_receipts {
            return Err(reads_off());
        }
        self.registered(app, from).await?;
        let slot = match self.teams.get(app, tid).await? {
            Some(slot) if !slot.read().team.dismissed => slot,
            _ => return Err(team_not_found(tid)),
        };
        let m = self
            .store
            .message(app, msgid)
            .await?
            .filter(|m| {
                m.kind == MsgKind::Team && m.tid == Some(tid) && &m.from == from && m.msg_type != 5
            })
            .ok_or_else(|| ApiError::new(Code::NotFound, format!("msgid {msgid} not found")))?;
        if !m.mark_read {
            return Err(ApiError::param(format!(
                "msgid {msgid} was not sent with markRead=1"
            )));
        }
        let audience = self.readers_audience(app, &m).await?;
        self.tracker.flush().await?;
        let mut read = match self.store.readers(app, msgid).await? {
            Some(blob) => audience::decode(&blob).map_err(internal)?,
            None => RoaringBitmap::new(),
        };
        read &= &audience;
        let unread = &audience - &read;
        let lists = if snapshot {
            Some((
                self.accids_in(app, &read, &slot).await?,
                self.accids_in(app, &unread, &slot).await?,
            ))
        } else {
            None
        };
        Ok(ReadInfo {
            read: read.len(),
            unread: unread.len(),
            lists,
        })
    }
}
