//! Read-only summaries NIM has no endpoint for, which the web console shows (qunfa): the app at
//! a glance (`msg/queryOverview`), how many accounts each area and enterprise type reaches
//! (`dic/countAccounts`), and accounts by accid prefix (`user/search`).

use std::collections::HashMap;

use qunfa_core::ApiError;
use qunfa_core::account::{Accid, Account};
use qunfa_core::audience::{self, Selection};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::{BroadcastFilter, Message};
use qunfa_core::store::internal;
use roaring::RoaringBitmap;

use crate::Services;

/// Most sends one overview sums up (the newest ones); beyond it the answer says `truncated`.
pub const OVERVIEW_MAX_SENDS: usize = 1000;
/// Sends read from the store per page while collecting them.
const PAGE: usize = 100;

/// Sessions online on one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Online {
    pub sessions: u64,
    /// Distinct accounts among them.
    pub accounts: u64,
}

/// Delivery figures summed over a set of sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Funnel {
    pub sends: u64,
    pub recipients: u64,
    pub delivered: u64,
    pub read: u64,
}

/// `msg/queryOverview`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// Every account but the app's system account.
    pub accounts: u64,
    pub blocked: u64,
    /// On this node only: each node knows its own sessions.
    pub online: Online,
    pub since_ms: i64,
    /// Targeted sends and broadcasts since `since_ms` (not those the keyword filter stopped).
    pub sends: Funnel,
    /// The part of `sends` that asked for read receipts (`markRead`): reads are counted there.
    pub mark_read: Funnel,
    /// More sends than [`OVERVIEW_MAX_SENDS`] matched; the figures cover the newest ones.
    pub truncated: bool,
}

/// `dic/countAccounts`: what a targeted send to everyone, to each area (with its sub-areas)
/// and to each enterprise type would reach now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCounts {
    pub all: u64,
    pub areas: Vec<(String, u64)>,
    pub types: Vec<(String, u64)>,
}

impl Services {
    /// `user/search`: a page of accounts whose accid starts with `prefix`, after `after`. The
    /// app's system account is not one of its users, and is left out as in every count here.
    pub async fn search_accounts(
        &self,
        app: AppId,
        prefix: &str,
        after: Option<&Accid>,
        limit: usize,
    ) -> Result<Vec<Account>, ApiError> {
        let mut found = self
            .store
            .search_accounts(app, prefix, after, limit + 1)
            .await?;
        found.retain(|a| a.accid != self.rules.system_accid);
        found.truncate(limit);
        Ok(found)
    }

    /// `dic/countAccounts`. Each count is the size of the audience a send selecting only that
    /// entry would get, so blocked accounts and the system account are left out.
    pub async fn count_accounts(&self, app: AppId) -> Result<AccountCounts, ApiError> {
        let areas = self.store.list_areas(app).await?;
        let types = self.store.list_enterptypes(app).await?;
        let ix = self.fresh_index(app).await?;
        let ix = ix.read();
        let count = |sel: Selection| ix.select(&sel, None).map(|b| b.len());
        let mut out = AccountCounts {
            all: count(Selection::default())?,
            areas: Vec::with_capacity(areas.len()),
            types: Vec::with_capacity(types.len()),
        };
        // An entry created by another node a moment ago may not be in this index yet; it has
        // no accounts here then, and answering 0 beats refusing the whole listing.
        for a in areas {
            let n = count(Selection {
                areas: vec![a.areaid.clone()],
                ..Selection::default()
            })
            .unwrap_or(0);
            out.areas.push((a.areaid, n));
        }
        for t in types {
            let n = count(Selection {
                types: vec![t.enterptypeid.clone()],
                ..Selection::default()
            })
            .unwrap_or(0);
            out.types.push((t.enterptypeid, n));
        }
        Ok(out)
    }

    /// `msg/queryOverview`: accounts, this node's sessions, and the delivery funnel of the
    /// targeted sends and broadcasts since `since_ms`.
    pub async fn overview(&self, app: AppId, since_ms: i64) -> Result<Overview, ApiError> {
        let (accounts, visible) = {
            let ix = self.fresh_index(app).await?;
            let ix = ix.read();
            let system = u64::from(ix.ordinal_of(self.rules.system_accid.as_str()).is_some());
            let visible = ix.select(&Selection::default(), None)?.len();
            (ix.len() - system, visible)
        };
        let (sends, truncated) = self.sends_since(app, since_ms).await?;
        let (all, mark_read) = self.funnels(app, &sends).await?;
        Ok(Overview {
            accounts,
            blocked: accounts.saturating_sub(visible),
            online: self.sessions.online(app),
            since_ms,
            sends: all,
            mark_read,
            truncated,
        })
    }

    /// The targeted sends and broadcasts with a timetag at or after `since_ms`, newest first,
    /// at most [`OVERVIEW_MAX_SENDS`]; `true` when there were more. Both listings are newest
    /// first, so each is read until a page reaches past `since_ms`.
    async fn sends_since(
        &self,
        app: AppId,
        since_ms: i64,
    ) -> Result<(Vec<Message>, bool), ApiError> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = self.store.mass_messages(app, before, PAGE).await?;
            before = page.last().map(|m| m.msgid);
            if !take_recent(&mut out, page, since_ms) || out.len() > OVERVIEW_MAX_SENDS {
                break;
            }
        }
        let mut broadcasts = Vec::new();
        // `broadcasts` starts at an id inclusively.
        let mut start = None;
        loop {
            let page = self
                .store
                .broadcasts(app, start, PAGE, BroadcastFilter::All)
                .await?;
            start = page.last().map(|m| MsgId(m.msgid.0 - 1));
            if !take_recent(&mut broadcasts, page, since_ms)
                || broadcasts.len() > OVERVIEW_MAX_SENDS
                || start.is_none_or(|s| s.0 < 1)
            {
                break;
            }
        }
        out.append(&mut broadcasts);
        out.retain(|m| !m.antispam);
        out.sort_unstable_by_key(|m| std::cmp::Reverse(m.msgid));
        let truncated = out.len() > OVERVIEW_MAX_SENDS;
        out.truncate(OVERVIEW_MAX_SENDS);
        Ok((out, truncated))
    }

    /// The funnels of `sends` (newest first): all of them, and those with read receipts. The
    /// cursors are read once; walking the sends from the newest down, the accounts whose
    /// cursor reaches each one are added to one bitmap, so every send costs one intersection.
    async fn funnels(&self, app: AppId, sends: &[Message]) -> Result<(Funnel, Funnel), ApiError> {
        let (mut all, mut marked) = (Funnel::default(), Funnel::default());
        let Some(oldest) = sends.last().map(|m| m.msgid) else {
            return Ok((all, marked));
        };
        // Reports still in this node's memory count too.
        self.tracker.flush().await?;
        let mut cursors = self.store.cursors_from(app, oldest).await?;
        cursors.sort_unstable_by_key(|c| std::cmp::Reverse(c.1));
        let mut cursors = cursors.into_iter().peekable();
        let mut reached = RoaringBitmap::new();
        let mut audiences: HashMap<[u8; 32], std::sync::Arc<RoaringBitmap>> = HashMap::new();
        for m in sends {
            while let Some((o, _)) = cursors.next_if(|(_, c)| *c >= m.msgid) {
                reached.insert(o.0);
            }
            let Some(hash) = m.audience_hash else {
                continue;
            };
            let audience = match audiences.get(&hash) {
                Some(a) => a.clone(),
                None => {
                    let a = self
                        .audiences
                        .by_hash(self.store.as_ref(), app, hash)
                        .await?
                        .unwrap_or_default();
                    audiences.insert(hash, a.clone());
                    a
                }
            };
            // A reader has it, whatever its cursor says.
            let readers = match (m.mark_read, self.store.readers(app, m.msgid).await?) {
                (true, Some(blob)) => &*audience & &audience::decode(&blob).map_err(internal)?,
                _ => RoaringBitmap::new(),
            };
            let f = Funnel {
                sends: 1,
                recipients: audience.len(),
                delivered: audience.intersection_len(&reached) + readers.difference_len(&reached),
                read: readers.len(),
            };
            all.add(f);
            if m.mark_read {
                marked.add(f);
            }
        }
        Ok((all, marked))
    }
}

impl Funnel {
    fn add(&mut self, f: Funnel) {
        self.sends += f.sends;
        self.recipients += f.recipients;
        self.delivered += f.delivered;
        self.read += f.read;
    }
}

/// Moves the messages of a newest-first `page` sent at or after `since_ms` into `out`; `true`
/// when the next page may hold more (this one was full and all of it was recent enough).
fn take_recent(out: &mut Vec<Message>, page: Vec<Message>, since_ms: i64) -> bool {
    let full = page.len() == PAGE;
    let before = out.len();
    let n = page.len();
    out.extend(page.into_iter().take_while(|m| m.timetag >= since_ms));
    full && out.len() - before == n
}
