//! The Bus port: how the nodes of a deployment tell each other what happened.
//!
//! The store is the truth; the bus only wakes nodes up. Delivery is at most once: an event may
//! be lost (a broker restart, a slow subscriber), so a node never depends on hearing one. It
//! polls the store's heads too, and every event names a position in the store (a msgid, a
//! `change_seq`), so a node that missed some reads what lies between from the store.
//!
//! Adapters: in-process (the default, one node) and NATS (many nodes), in `qunfa-server`.

use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::account::Accid;
use crate::ids::{AppId, MsgId, Ordinal};
use crate::message::Message;
use crate::team::Tid;

/// Who a live delivery is for.
#[derive(Clone, Debug)]
pub enum Target {
    One(Ordinal),
    Audience(Arc<RoaringBitmap>),
}

/// A committed message as the node that wrote it has it: with its audience decoded, so that
/// node delivers it without reading it back.
#[derive(Clone, Debug)]
pub struct Live {
    pub message: Message,
    pub target: Target,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    /// Messages of `app` committed, up to msgid `upto`. `live` holds those this node wrote
    /// (in-process only, never sent to other nodes: they read the store).
    Committed {
        app: AppId,
        upto: MsgId,
        #[serde(skip)]
        live: Vec<Arc<Live>>,
    },
    /// `reader` read `msgid`: tell its sender's sessions.
    Receipt {
        app: AppId,
        sender: Ordinal,
        msgid: MsgId,
        reader: Accid,
        time: i64,
        /// The team, for a team message.
        #[serde(default)]
        tid: Option<Tid>,
    },
    /// Something for some accounts' sessions that is not a stored message: a pending team
    /// invitation or application and the answers to them.
    Notice {
        app: AppId,
        to: Vec<Ordinal>,
        notice: Notice,
    },
    /// Accounts, dictionaries or the keyword list of `app` changed, up to `change_seq` `seq`
    /// (kicks are account changes).
    Changed { app: AppId, seq: i64 },
    /// An app was created, enabled or disabled.
    AppsChanged,
}

pub trait Bus: Send + Sync + 'static {
    /// Tells every node, this one included. Never blocks and never fails: a lost event costs
    /// at most one poll interval.
    fn publish(&self, event: Event);
    /// This node's subscription: what any node published, this node's own events with their
    /// `live` payload. Taken once, by the node's subscriber loop.
    fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Event>>;
    /// Whether events currently reach the other nodes (always, in-process).
    fn connected(&self) -> bool;
}

/// What an [`Event::Notice`] tells the sessions it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// A pending invitation to the invitee.
    TeamInvite {
        tid: Tid,
        tname: String,
        inviter: Accid,
        msg: String,
        attach: Option<String>,
        time: i64,
    },
    /// A pending application, to the team's owner and managers.
    TeamApply {
        tid: Tid,
        accid: Accid,
        msg: String,
        time: i64,
    },
    /// The invitee (`accid`) turned the invitation down: to the inviter.
    TeamInviteRejected {
        tid: Tid,
        accid: Accid,
        msg: String,
        time: i64,
    },
    /// The application was turned down by `by`: to the applicant.
    TeamApplyRejected {
        tid: Tid,
        by: Accid,
        msg: String,
        time: i64,
    },
}
