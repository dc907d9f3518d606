//! The behaviour every `Store` backend must show, one file per part of the port. A backend's
//! test file runs all of it with
//! `qunfa_store::store_conformance_suite!(async { /* a fresh, empty store */ });`
//!
//! Compiled only with the `testsuite` feature (the crate's own tests turn it on), so none of
//! it ships in the release binary.

#![allow(clippy::unwrap_used)] // a test suite: a failed unwrap is a failed check

mod accounts;
mod apps;
mod callbacks;
mod delivery;
mod dict;
mod messages;
mod teams;
mod words;

pub use accounts::*;
pub use apps::*;
pub use callbacks::*;
pub use delivery::*;
pub use dict::*;
pub use messages::*;
pub use teams::*;
pub use words::*;

use qunfa_core::account::{Accid, NewAccount, Profile, hash_token};
use qunfa_core::audience;
use qunfa_core::dict::Area;
use qunfa_core::ids::Ordinal;
use qunfa_core::message::{MsgKind, NewMessage};

pub(crate) fn acc(id: &str, areaid: Option<&str>, t: Option<&str>) -> NewAccount {
    let accid = accid(id);
    NewAccount {
        token_hash: hash_token(&accid, "t"),
        accid,
        profile: Profile {
            name: Some(format!("name of {id}")),
            areaid: areaid.map(str::to_owned),
            enterptypeid: t.map(str::to_owned),
            ..Profile::default()
        },
    }
}

pub(crate) fn area(id: &str, parent: Option<&str>) -> Area {
    Area {
        areaid: id.into(),
        name: format!("area {id}"),
        parentid: parent.map(str::to_owned),
    }
}

pub(crate) fn accid(s: &str) -> Accid {
    Accid::parse(s, "accid").expect("test accid is valid")
}

pub(crate) fn p2p(from: &str, to: &str, ordinal: u32, text: &str) -> NewMessage {
    let mut m = NewMessage::new(
        MsgKind::P2p,
        accid(from),
        0,
        format!("{{\"msg\":\"{text}\"}}"),
    );
    m.to = Some(accid(to));
    m.to_ordinal = Some(Ordinal(ordinal));
    m
}

pub(crate) fn mass(from: &str, members: &[u32], key: Option<&str>) -> NewMessage {
    let bitmap = members.iter().copied().collect();
    let mut m = NewMessage::new(MsgKind::Mass, accid(from), 100, "{}".into());
    m.audience = Some(audience::encode(&bitmap));
    m.recipients = members.len() as u64;
    m.msgidclient = key.map(str::to_owned);
    m
}

/// Generates one `#[tokio::test]` per conformance check; `$make` is an async block that yields
/// a fresh, empty store (anything that derefs to `dyn Store`).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@tests $make;
            apps,
            bootstrap_creates_exactly_one_app,
            heads_follow_messages_and_changes,
            accounts_get_dense_ordinals_and_fail_alone,
            account_updates,
            account_changes_follow_change_seq,
            kicks_are_recorded_with_their_seq,
            area_tree_rules,
            enterptype_rules,
            dictionary_writes_move_dict_seq,
            apps_are_isolated,
            messages_get_increasing_msgids_and_reach_their_audience,
            messages_between_answers_every_kind,
            mass_sends_are_idempotent_by_msgidclient,
            recalled_messages_disappear_and_leave_a_tombstone,
            broadcasts_expire_and_can_be_deleted,
            inbox_pages_mix_direct_and_shared_messages,
            readers_never_pass_a_msgid_that_commits_later,
            keyword_lists_are_per_app,
            cursors_and_readers_are_kept_compactly,
            accounts_are_searched_by_accid_prefix_in_byte_order,
            cursors_from_answers_each_cursor_at_or_past_a_msgid,
            teams_change_with_their_notification_and_versions,
            team_and_member_changes_follow_change_seq,
            memberships_counts_and_caps_are_exact,
            invitations_and_applications_stay_pending_until_dropped,
            guarded_stores_check_team_versions_and_keys,
            team_messages_follow_membership_periods,
            callback_settings_are_stored_with_the_app,
            copied_messages_get_outbox_rows_in_their_transaction,
            failed_events_back_off_die_and_are_resent,
            callback_leases_go_to_one_node_until_they_expire
        );
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $make.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
