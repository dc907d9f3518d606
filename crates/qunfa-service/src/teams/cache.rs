//! This node's teams, in memory, following the store: per team its row, its members and their
//! bitmap, and the bitmap's encoding and content hash, computed once per version. A send reads
//! these under a short lock and refers to the stored audience by hash, so a send to a
//! 100,000-member team does what a send to a 10-member one does: no scan, no encode, no hash.
//!
//! A team is loaded from the store on first use. Per app, the cache has applied the team and
//! member rows up to a `change_seq` watermark; catching up reads the rows written in
//! `(watermark, head]` (team rows and member rows bounded alike, so they are one consistent
//! cut: every change touches its team's row, so a member row past the cut leaves the team row
//! past it too, and the stale version then fails the store's guard). Loads and catch-ups of an
//! app are serialised, so an older read never overwrites a newer one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard};

use qunfa_core::Store;
use qunfa_core::audience;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::{AppHead, StoreResult};
use qunfa_core::team::{Member, Role, Team, Tid};
use roaring::RoaringBitmap;
use tokio::sync::Mutex;

/// A team's member bitmap as stored with its messages: encoded once, hashed once.
pub struct TeamAudience {
    pub encoded: Vec<u8>,
    pub hash: [u8; 32],
    /// Whether the store is known to hold it (this node stored a message with it): then
    /// sends give only the hash.
    stored: AtomicBool,
}

impl TeamAudience {
    pub fn of(bits: &RoaringBitmap) -> TeamAudience {
        let encoded = audience::encode(bits);
        TeamAudience {
            hash: audience::digest(&encoded),
            encoded,
            stored: AtomicBool::new(false),
        }
    }
    pub fn is_stored(&self) -> bool {
        self.stored.load(Ordering::Relaxed)
    }
    pub fn mark_stored(&self) {
        self.stored.store(true, Ordering::Relaxed);
    }
}

/// One team as this node has it.
pub struct TeamState {
    pub team: Team,
    pub members: HashMap<u32, Member>,
    /// The members' ordinals: shared with live deliveries (copied on change).
    pub bits: Arc<RoaringBitmap>,
    audience: OnceLock<Arc<TeamAudience>>,
}

impl TeamState {
    fn new(team: Team, members: Vec<Member>) -> TeamState {
        let bits: RoaringBitmap = members.iter().map(|m| m.ordinal.0).collect();
        TeamState {
            team,
            members: members.into_iter().map(|m| (m.ordinal.0, m)).collect(),
            bits: Arc::new(bits),
            audience: OnceLock::new(),
        }
    }

    pub fn member(&self, o: Ordinal) -> Option<&Member> {
        self.members.get(&o.0)
    }

    pub fn role(&self, o: Ordinal) -> Option<Role> {
        self.member(o).map(|m| m.role)
    }

    pub fn size(&self) -> u64 {
        self.bits.len()
    }

    /// Members with this role, in ordinal order.
    pub fn with_role(&self, role: Role) -> Vec<&Member> {
        let mut v: Vec<&Member> = self.members.values().filter(|m| m.role == role).collect();
        v.sort_by_key(|m| m.ordinal);
        v
    }

    /// The owner's record.
    pub fn owner(&self) -> Option<&Member> {
        self.members.values().find(|m| m.role == Role::Owner)
    }

    /// The member bitmap's encoding and hash, computed on first use at this version.
    pub fn audience(&self) -> Arc<TeamAudience> {
        self.audience
            .get_or_init(|| Arc::new(TeamAudience::of(&self.bits)))
            .clone()
    }

    fn upsert(&mut self, m: Member) {
        if !self.bits.contains(m.ordinal.0) {
            Arc::make_mut(&mut self.bits).insert(m.ordinal.0);
            self.audience = OnceLock::new();
        }
        self.members.insert(m.ordinal.0, m);
    }

    fn remove(&mut self, o: Ordinal) {
        if self.members.remove(&o.0).is_some() {
            Arc::make_mut(&mut self.bits).remove(o.0);
            self.audience = OnceLock::new();
        }
    }
}

pub struct TeamSlot {
    state: RwLock<TeamState>,
}

impl TeamSlot {
    pub fn read(&self) -> RwLockReadGuard<'_, TeamState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct AppTeams {
    teams: RwLock<HashMap<Tid, Arc<TeamSlot>>>,
    /// The `change_seq` up to which team and member rows are applied; held while loading or
    /// catching up.
    seen: Mutex<Option<i64>>,
}

pub struct TeamCache {
    store: Arc<dyn Store>,
    apps: RwLock<HashMap<AppId, Arc<AppTeams>>>,
}

impl TeamCache {
    pub fn new(store: Arc<dyn Store>) -> TeamCache {
        TeamCache {
            store,
            apps: RwLock::new(HashMap::new()),
        }
    }

    fn app(&self, app: AppId) -> Arc<AppTeams> {
        if let Some(a) = self
            .apps
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&app)
        {
            return a.clone();
        }
        self.apps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(app)
            .or_default()
            .clone()
    }

    fn cached(a: &AppTeams, tid: Tid) -> Option<Arc<TeamSlot>> {
        a.teams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tid)
            .cloned()
    }

    /// The team as this node has it (loaded from the store on first use); `None` when the
    /// store has no such team. Dismissed teams are answered too.
    pub async fn get(&self, app: AppId, tid: Tid) -> StoreResult<Option<Arc<TeamSlot>>> {
        let a = self.app(app);
        if let Some(slot) = Self::cached(&a, tid) {
            return Ok(Some(slot));
        }
        let mut seen = a.seen.lock().await;
        if let Some(slot) = Self::cached(&a, tid) {
            return Ok(Some(slot));
        }
        if seen.is_none() {
            // Rows written before this head are in what is loaded now; later ones are caught up.
            *seen = Some(self.store.head(app).await?.change_seq);
        }
        // The row, the members, the row again: the same version twice means the members read
        // between are that version's.
        let Some(mut team) = self.store.team(app, tid).await? else {
            return Ok(None);
        };
        let members = loop {
            let members = self.store.team_members(app, tid).await?;
            let Some(again) = self.store.team(app, tid).await? else {
                return Ok(None);
            };
            if again.version == team.version {
                break members;
            }
            team = again;
        };
        let slot = Arc::new(TeamSlot {
            state: RwLock::new(TeamState::new(team, members)),
        });
        a.teams
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tid, slot.clone());
        Ok(Some(slot))
    }

    /// Applies the team writes the store holds up to `head` (read after the writes the
    /// caller needs to see).
    pub async fn catch_up(&self, head: &AppHead) -> StoreResult<()> {
        let a = self.app(head.app);
        let mut seen = a.seen.lock().await;
        let Some(since) = *seen else {
            // Nothing loaded yet: what is loaded later is read whole.
            return Ok(());
        };
        if head.change_seq <= since {
            return Ok(());
        }
        let upto = head.change_seq;
        if a.teams.read().unwrap_or_else(|e| e.into_inner()).is_empty() {
            *seen = Some(upto);
            return Ok(());
        }
        let teams = self.store.team_changes(head.app, since, upto).await?;
        let members = self.store.member_changes(head.app, since, upto).await?;
        for t in teams {
            if let Some(slot) = Self::cached(&a, t.tid) {
                let mut st = slot.state.write().unwrap_or_else(|e| e.into_inner());
                if t.version >= st.team.version {
                    st.team = t;
                }
            }
        }
        for c in members {
            if let Some(slot) = Self::cached(&a, c.tid) {
                let mut st = slot.state.write().unwrap_or_else(|e| e.into_inner());
                if c.active {
                    st.upsert(c.member);
                } else {
                    st.remove(c.member.ordinal);
                }
            }
        }
        *seen = Some(upto);
        Ok(())
    }
}
