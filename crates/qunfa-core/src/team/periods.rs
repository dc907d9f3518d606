//! Membership periods: when an account was a member of a team, in msgids. A period starts at
//! the msgid of the notification that admitted it minus one and ends at the msgid of the one
//! that removed it, so a member sees the notice of its own joining and of its own leaving,
//! and nothing of the gap between two periods.

use crate::ids::MsgId;

/// One period: `(join, leave)`, open (`None`) while the account is a member.
pub type Period = (MsgId, Option<MsgId>);

/// Whether a member with these periods sees the team message `msgid`:
/// `join < msgid ≤ leave` for one of them.
pub fn sees(periods: &[Period], msgid: MsgId) -> bool {
    periods
        .iter()
        .any(|&(join, leave)| msgid > join && leave.is_none_or(|l| msgid <= l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_a_period_only() {
        let p = [(MsgId(9), Some(MsgId(20))), (MsgId(29), None)];
        let seen: Vec<i64> = (1..40).filter(|&m| sees(&p, MsgId(m))).collect();
        let want: Vec<i64> = (10..=20).chain(30..40).collect();
        assert_eq!(seen, want);
        assert!(!sees(&[], MsgId(1)));
    }
}
