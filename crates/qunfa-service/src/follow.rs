//! How this node's caches follow the store: after its own writes at once, after other nodes'
//! writes on their bus event or, if that was lost, on the next poll of the store's heads.

use std::sync::Arc;

use qunfa_core::account::Accid;
use qunfa_core::bus::Event;
use qunfa_core::ids::{AppId, Ordinal};
use qunfa_core::store::{AppHead, StoreResult};

use crate::Services;
use crate::index::AppIndex;

impl Services {
    /// Brings this node's caches of `app` (audience index, keyword matcher, teams) up to the store's
    /// head, ending the sessions of accounts kicked on the way. Answers the head.
    pub async fn follow(&self, app: AppId) -> StoreResult<AppHead> {
        let head = self.store.head(app).await?;
        self.follow_head(&head).await?;
        Ok(head)
    }

    /// [`Services::follow`] to a head already read (a poll reads every app's at once).
    pub async fn follow_head(&self, head: &AppHead) -> StoreResult<()> {
        self.words.follow(head.app, head.words_seq);
        for k in self.indexes.catch_up(head).await? {
            self.sessions.kick(head.app, k.ordinal, k.seq, &k.reason);
        }
        // After the index: a member that joined a team is an account the index knows.
        self.teams.catch_up(head).await
    }

    /// After this node wrote accounts, dictionaries, keywords or teams of `app`: its own caches catch
    /// up before the write is answered (a 200 means later reads here see it), then the other
    /// nodes are told.
    pub(crate) async fn changed(&self, app: AppId) -> StoreResult<()> {
        let head = self.follow(app).await?;
        self.bus.publish(Event::Changed {
            app,
            seq: head.change_seq,
        });
        Ok(())
    }

    /// The app's audience index, fresh enough for a read that must see every write answered
    /// so far on any node: on a shared store it first catches up with the store.
    pub async fn fresh_index(&self, app: AppId) -> StoreResult<Arc<AppIndex>> {
        if self.shared() {
            self.follow(app).await?;
        }
        self.indexes.get(app).await
    }

    /// An account's ordinal. On a shared store a miss looks again after catching up: the
    /// account may have been created through another node a moment ago.
    pub async fn ordinal(&self, app: AppId, accid: &Accid) -> StoreResult<Option<Ordinal>> {
        let ix = self.indexes.get(app).await?;
        if let Some(o) = ix.read().ordinal_of(accid.as_str()) {
            return Ok(Some(o));
        }
        if !self.shared() {
            return Ok(None);
        }
        self.follow(app).await?;
        Ok(ix.read().ordinal_of(accid.as_str()))
    }

    /// One poll: every app's head, with this node's caches brought up to it. The node's
    /// subscriber runs this every `bus.poll_ms` and hands the heads to live delivery, so a lost
    /// bus event costs at most one poll interval.
    pub async fn poll(&self) -> StoreResult<Vec<AppHead>> {
        let heads = self.store.heads().await?;
        for h in &heads {
            if let Err(e) = self.follow_head(h).await {
                tracing::warn!(app = %h.app, error = %e, "catching up with the store failed");
            }
        }
        Ok(heads)
    }
}
