//! Delivery acknowledgements and read receipts: from the gateway (`ack`, `read` frames) and
//! NIM's server-side `msg/markReadMsg`. The sender's sessions hear of a read on every node.

use qunfa_core::account::Accid;
use qunfa_core::bus::Event;
use qunfa_core::ids::{AppId, MsgId, Ordinal};
use qunfa_core::message::MsgKind;
use qunfa_core::store::StoreResult;
use qunfa_core::{ApiError, Code};

use crate::Services;

/// How `markReadMsg` names the message.
#[derive(Clone, Debug)]
pub enum MessageRef {
    /// NIM's `msgidClient`: the app's own id, given at send.
    Client(String),
    /// qunfa's msgid.
    Id(MsgId),
}

impl Services {
    /// The client has everything up to `cursor` (written to the store within `flush_ms`).
    pub fn ack(&self, app: AppId, ordinal: Ordinal, cursor: MsgId) {
        self.tracker.ack(app, ordinal, cursor);
    }

    /// Records that `reader` read `msgid`, if it is a message it received that takes receipts
    /// (point-to-point always, as NIM; others, team messages of other members included, only
    /// when sent with `markRead`), and tells the
    /// sender's sessions. Answers whether it counted.
    pub async fn read(
        &self,
        app: AppId,
        ordinal: Ordinal,
        reader: &Accid,
        msgid: MsgId,
    ) -> StoreResult<bool> {
        let Some(m) = self.store.message(app, msgid).await? else {
            return Ok(false);
        };
        if (m.kind != MsgKind::P2p && !m.mark_read) || m.antispam || m.recalled_ms.is_some() {
            return Ok(false);
        }
        let received = match m.kind {
            MsgKind::P2p => m.to.as_ref() == Some(reader),
            // A team member reads the others' messages, not its own.
            MsgKind::Team
                if m.msg_type == 5 || &m.from == reader || !self.team_rules.read_receipts =>
            {
                false
            }
            MsgKind::Mass | MsgKind::Broadcast | MsgKind::Team => match m.audience_hash {
                Some(hash) => self
                    .audiences
                    .by_hash(self.store.as_ref(), app, hash)
                    .await?
                    .is_some_and(|a| a.contains(ordinal.0)),
                None => false,
            },
            MsgKind::Recall | MsgKind::Notify => false,
        };
        if !received {
            return Ok(false);
        }
        self.tracker.read(app, msgid, ordinal);
        if let Some(sender) = self.ordinal(app, &m.from).await? {
            self.bus.publish(Event::Receipt {
                app,
                sender,
                msgid,
                reader: reader.clone(),
                time: self.now_ms(),
                tid: m.tid,
            });
        }
        Ok(true)
    }

    /// `msg/markReadMsg`: `reader` read the point-to-point message `sender` sent them. Answers
    /// the time it was recorded.
    pub async fn mark_read_msg(
        &self,
        app: AppId,
        reader: &Accid,
        sender: &Accid,
        which: MessageRef,
    ) -> Result<i64, ApiError> {
        let ordinal = self.registered(app, reader).await?;
        let m = match which {
            MessageRef::Client(key) => self.store.message_by_client(app, &key).await?,
            MessageRef::Id(id) => self.store.message(app, id).await?,
        };
        let m = m
            .filter(|m| {
                m.kind == MsgKind::P2p && &m.from == sender && m.to.as_ref() == Some(reader)
            })
            .ok_or_else(|| {
                ApiError::new(
                    Code::NotFound,
                    "message not found: check from, to and msgidClient",
                )
            })?;
        self.read(app, ordinal, reader, m.msgid).await?;
        Ok(self.now_ms())
    }
}
