//! History: NIM's session and broadcast listings, and qunfa's per-account inbox and list of
//! targeted sends.

use qunfa_core::account::Accid;
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::{BroadcastFilter, Message, MsgKind};
use qunfa_core::store::SessionQuery;
use qunfa_core::{ApiError, Code};

use crate::Services;

fn broadcast_not_found(id: MsgId) -> ApiError {
    ApiError::new(Code::NotFound, format!("broadcastId {id} not found"))
}

impl Services {
    /// `history/querySessionMsg`: point-to-point messages between two accounts, both ways.
    pub async fn session_msgs(
        &self,
        app: AppId,
        q: SessionQuery,
    ) -> Result<Vec<Message>, ApiError> {
        Ok(self.store.session_messages(app, q).await?)
    }

    /// `history/queryBroadcastMsg`: broadcasts from `start` down (`None`: the newest).
    pub async fn broadcasts(
        &self,
        app: AppId,
        start: Option<MsgId>,
        limit: usize,
        filter: BroadcastFilter,
    ) -> Result<Vec<Message>, ApiError> {
        Ok(self.store.broadcasts(app, start, limit, filter).await?)
    }

    /// `history/queryBroadcastMsgById`: one broadcast that was not deleted, or 404.
    pub async fn broadcast_by_id(&self, app: AppId, id: MsgId) -> Result<Message, ApiError> {
        self.store
            .message(app, id)
            .await?
            .filter(|m| m.kind == MsgKind::Broadcast && !m.deleted)
            .ok_or_else(|| broadcast_not_found(id))
    }

    /// `history/delBroadcastMsgById`: deletes a broadcast; it no longer lists or syncs.
    pub async fn delete_broadcast(&self, app: AppId, id: MsgId) -> Result<(), ApiError> {
        if !self.store.delete_broadcast(app, id).await? {
            return Err(broadcast_not_found(id));
        }
        Ok(())
    }

    /// `history/queryUserMsgs` (qunfa): what `accid` received after `cursor`, in msgid order
    /// (the same question a client's catch-up asks).
    pub async fn user_msgs(
        &self,
        app: AppId,
        accid: &Accid,
        cursor: MsgId,
        limit: usize,
    ) -> Result<Vec<Message>, ApiError> {
        let ordinal = self.registered(app, accid).await?;
        Ok(self
            .store
            .user_messages(app, ordinal, cursor, limit, self.now_ms())
            .await?)
    }

    /// `history/queryMassMsgs` (qunfa): targeted sends, newest first, below `before`.
    pub async fn mass_msgs(
        &self,
        app: AppId,
        before: Option<MsgId>,
        limit: usize,
    ) -> Result<Vec<Message>, ApiError> {
        Ok(self.store.mass_messages(app, before, limit).await?)
    }
}
