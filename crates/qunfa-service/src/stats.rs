//! `msg/queryMassMsgStats` (qunfa): for one message, how many it was for, how many have it
//! (their acknowledged cursor reached it, or they read it) and how many read it, with a page
//! of those accounts on request.

use qunfa_core::account::Accid;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::MsgKind;
use qunfa_core::store::internal;
use qunfa_core::{ApiError, Code};
use roaring::RoaringBitmap;

use crate::Services;

/// Which accounts to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsList {
    Read,
    Unread,
    Undelivered,
}

impl StatsList {
    pub fn name(self) -> &'static str {
        match self {
            StatsList::Read => "read",
            StatsList::Unread => "unread",
            StatsList::Undelivered => "undelivered",
        }
    }
}

/// A page of a list, by ordinal: those after `after` (-1: from the start).
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub list: StatsList,
    pub after: i64,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgStats {
    pub msgid: MsgId,
    pub recipients: u64,
    pub delivered: u64,
    pub read: u64,
    /// The page asked for: its accounts and the cursor of the next page (-1: none).
    pub page: Option<(StatsList, Vec<Accid>, i64)>,
}

impl Services {
    pub async fn msg_stats(
        &self,
        app: AppId,
        msgid: MsgId,
        page: Option<Page>,
    ) -> Result<MsgStats, ApiError> {
        let not_found = || ApiError::new(Code::NotFound, format!("msgid {msgid} not found"));
        let m = self
            .store
            .message(app, msgid)
            .await?
            .filter(|m| m.kind != MsgKind::Recall)
            .ok_or_else(not_found)?;
        let audience: RoaringBitmap = match (m.kind, m.audience_hash) {
            (MsgKind::P2p, _) => m.to_ordinal.map(|o| o.0).into_iter().collect(),
            (_, Some(hash)) => self
                .audiences
                .by_hash(self.store.as_ref(), app, hash)
                .await?
                .map(|b| (*b).clone())
                .unwrap_or_default(),
            (_, None) => RoaringBitmap::new(),
        };
        // Reports still in this node's memory count too.
        self.tracker.flush().await?;
        let mut delivered: RoaringBitmap = self
            .store
            .delivered(app, msgid)
            .await?
            .into_iter()
            .map(|o| o.0)
            .collect();
        delivered &= &audience;
        let mut read = match self.store.readers(app, msgid).await? {
            Some(blob) => audience::decode(&blob).map_err(internal)?,
            None => RoaringBitmap::new(),
        };
        read &= &audience;
        // A reader has it, whatever its cursor says.
        delivered |= &read;
        let page = match page {
            None => None,
            Some(p) => {
                let set = match p.list {
                    StatsList::Read => read.clone(),
                    StatsList::Unread => &audience - &read,
                    StatsList::Undelivered => &audience - &delivered,
                };
                let start = u32::try_from(p.after + 1).unwrap_or(0);
                let ords: Vec<u32> = set
                    .iter()
                    .filter(|&o| o >= start)
                    .take(p.limit + 1)
                    .collect();
                let more = ords.len() > p.limit;
                let ords = &ords[..ords.len().min(p.limit)];
                let accids = self
                    .store
                    .accids_of(app, ords.iter().copied().map(Ordinal).collect())
                    .await?;
                let next = if more {
                    ords.last().map_or(-1, |&o| i64::from(o))
                } else {
                    -1
                };
                Some((p.list, accids.into_iter().map(|(_, a)| a).collect(), next))
            }
        };
        Ok(MsgStats {
            msgid,
            recipients: audience.len(),
            delivered: delivered.len(),
            read: read.len(),
            page,
        })
    }
}
