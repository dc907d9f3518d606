//! Recall: NIM's two-way recall of a point-to-point message (`msg/recall` type 7), and the
//! withdrawal of a targeted send or broadcast from everyone it reached (`recallMassMsg`).
//! A recall stores a tombstone with its own msgid, which reaches whoever the original reached.

use std::sync::Arc;

use qunfa_core::account::Accid;
use qunfa_core::bus::{Live, Target};
use qunfa_core::ids::{AppId, MsgId};
use qunfa_core::message::{Message, MsgKind, NewMessage};
use qunfa_core::store::internal;
use qunfa_core::{ApiError, Code};

use crate::Services;
use crate::send::publish;

/// `msg/recall`.
#[derive(Clone, Debug)]
pub struct P2pRecall {
    pub msgid: MsgId,
    pub from: Accid,
    pub to: Accid,
    /// Skip the recall-window check.
    pub ignore_time: bool,
    /// The tombstone's body (`{"msg": …}`) and NIM's other recall parameters.
    pub body: String,
    pub extra: Option<String>,
}

/// `msg/recallMassMsg`.
#[derive(Clone, Debug)]
pub struct MassRecall {
    pub msgid: MsgId,
    pub ignore_time: bool,
    pub body: String,
    pub extra: Option<String>,
}

impl Services {
    /// Refuses a recall of an intercepted message (414), or one past the window (508).
    pub(crate) fn check_recallable(
        &self,
        m: &Message,
        ignore_time: bool,
        param: &str,
    ) -> Result<(), ApiError> {
        if m.antispam {
            return Err(ApiError::param(format!(
                "{param}: an intercepted message cannot be recalled"
            )));
        }
        let window = self.rules.recall_window_secs;
        if !ignore_time && self.now_ms() - m.timetag > window * 1000 {
            return Err(ApiError::new(
                Code::RecallExpired,
                format!("{param}: past the recall window of {window} s"),
            ));
        }
        Ok(())
    }

    /// Stores the tombstone (marking the original recalled), then publishes it.
    pub(crate) async fn commit_recall(
        &self,
        app: AppId,
        msgid: MsgId,
        mut tombstone: NewMessage,
        target: Option<Target>,
    ) -> Result<(), ApiError> {
        let copied = self.stamp(app, [&mut tombstone]);
        let hooks = self.hooks.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        let now = self.now_ms();
        let task = tokio::spawn(async move {
            let sent = store
                .recall_message(app, msgid, tombstone.clone(), now)
                .await?;
            if copied {
                hooks.queued(app);
            }
            if let Some(target) = target {
                let live = Arc::new(Live {
                    message: tombstone.stored(&sent),
                    target,
                });
                publish(&*bus, app, vec![live]);
            }
            Ok::<_, qunfa_core::StoreError>(())
        });
        task.await.map_err(internal)??;
        Ok(())
    }

    /// `msg/recall` (type 7). An unknown message, or one not from `from` to `to`, answers
    /// 200 with nothing done, as NIM does.
    pub async fn recall_p2p(&self, app: AppId, r: P2pRecall) -> Result<(), ApiError> {
        let Some(m) = self.store.message(app, r.msgid).await? else {
            return Ok(());
        };
        let same = m.kind == MsgKind::P2p && m.from == r.from && m.to.as_ref() == Some(&r.to);
        if !same || m.recalled_ms.is_some() {
            return Ok(());
        }
        self.check_recallable(&m, r.ignore_time, "deleteMsgid")?;
        let mut t = NewMessage::new(MsgKind::Recall, r.from, 7, r.body);
        t.to_ordinal = m.to_ordinal;
        t.to = Some(r.to);
        t.ref_msgid = Some(r.msgid);
        t.extra = r.extra;
        if self.copying(app, MsgKind::Recall) {
            t.copy = Some(qunfa_core::callback::recall_ctx(&m));
        }
        // A message a client sent reached its other sessions too: so does its recall.
        t.from_ordinal = m.from_ordinal;
        let target = match (t.to_ordinal, t.from_ordinal) {
            (Some(to), Some(from)) => Some(Target::Audience(Arc::new(
                [to.0, from.0].into_iter().collect(),
            ))),
            (to, _) => to.map(Target::One),
        };
        self.commit_recall(app, r.msgid, t, target).await
    }

    /// `msg/recallMassMsg`: 404 unless `msgid` is a targeted send or a broadcast not deleted;
    /// recalling one already recalled answers 200.
    pub async fn recall_mass(&self, app: AppId, r: MassRecall) -> Result<(), ApiError> {
        let m = self.store.message(app, r.msgid).await?;
        let Some(m) =
            m.filter(|m| matches!(m.kind, MsgKind::Mass | MsgKind::Broadcast) && !m.deleted)
        else {
            return Err(ApiError::new(
                Code::NotFound,
                format!("msgid {} not found", r.msgid),
            ));
        };
        if m.recalled_ms.is_some() {
            return Ok(());
        }
        self.check_recallable(&m, r.ignore_time, "msgid")?;
        let mut t = NewMessage::new(MsgKind::Recall, m.from.clone(), 8, r.body);
        t.ref_msgid = Some(r.msgid);
        t.audience = self.store.message_audience(app, r.msgid).await?;
        t.recipients = m.recipients;
        t.extra = r.extra;
        if self.copying(app, MsgKind::Recall) {
            t.copy = Some(qunfa_core::callback::recall_ctx(&m));
        }
        let bits = match m.audience_hash {
            Some(hash) => {
                self.audiences
                    .by_hash(self.store.as_ref(), app, hash)
                    .await?
            }
            None => None,
        };
        self.commit_recall(app, r.msgid, t, bits.map(Target::Audience))
            .await
    }
}
