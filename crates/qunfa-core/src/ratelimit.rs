//! Per-app rate limits with NIM's penalty rule: past the limit, the app gets 416 for the whole
//! penalty period, not just until the window rolls over.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One limit: at most `count` calls per `per_secs`, then 416 for `penalty_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub count: u32,
    pub per_secs: u32,
    pub penalty_secs: u32,
}

/// The three limits, by class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub default: Limit,
    pub batch: Limit,
    pub broadcast: Limit,
    /// `team/query` (NIM: 30/min per app).
    pub team_query: Limit,
}

impl Limits {
    pub fn of(&self, class: LimitClass) -> Limit {
        match class {
            LimitClass::Default => self.default,
            LimitClass::Batch => self.batch,
            LimitClass::Broadcast => self.broadcast,
            LimitClass::TeamQuery => self.team_query,
        }
    }
}

/// Which limit an endpoint falls under (reference section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// 100/s, 10 s penalty: most endpoints, counted per NIM group (`user`, `msg`, …).
    Default,
    /// 120/min, 1 min penalty: `sendBatchMsg`, `sendBatchAttachMsg`.
    Batch,
    /// 10/min, 1 min penalty: `broadcastMsg`.
    Broadcast,
    /// 30/min, 1 min penalty: `team/query` (besides the `team` group's 100/s).
    TeamQuery,
}

/// The class and counter key of an endpoint (`group/name` without `.action`).
pub fn classify(endpoint: &str) -> (LimitClass, &str) {
    match endpoint {
        "msg/sendBatchMsg" | "msg/sendBatchAttachMsg" => (LimitClass::Batch, endpoint),
        "msg/broadcastMsg" => (LimitClass::Broadcast, endpoint),
        "team/query" => (LimitClass::TeamQuery, endpoint),
        _ => (
            LimitClass::Default,
            endpoint.split('/').next().unwrap_or(endpoint),
        ),
    }
}

#[derive(Default)]
struct Counter {
    window_start_ms: i64,
    count: u32,
    blocked_until_ms: i64,
}

/// Fixed-window counters per (app, key).
pub struct RateLimiter {
    limits: Limits,
    counters: Mutex<HashMap<(i64, String), Counter>>,
}

/// The fixed window a call at `now_ms` falls in, for a window of `per_secs`: its start, ms.
pub fn window_start(now_ms: i64, per_secs: u32) -> i64 {
    let window_ms = (i64::from(per_secs) * 1000).max(1);
    now_ms - now_ms.rem_euclid(window_ms)
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one call; `Err(key)` when the app is over the limit or still in its penalty.
    pub fn check<'a>(&self, app_id: i64, endpoint: &'a str, now_ms: i64) -> Result<(), &'a str> {
        let (class, key) = classify(endpoint);
        let limit = self.limits.of(class);
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let c = match counters.get_mut(&(app_id, key.to_owned())) {
            Some(c) => c,
            None => counters.entry((app_id, key.to_owned())).or_default(),
        };
        if now_ms < c.blocked_until_ms {
            return Err(key);
        }
        let window_ms = i64::from(limit.per_secs) * 1000;
        if now_ms - c.window_start_ms >= window_ms || now_ms < c.window_start_ms {
            c.window_start_ms = window_start(now_ms, limit.per_secs);
            c.count = 0;
        }
        if c.count >= limit.count {
            c.blocked_until_ms = now_ms + i64::from(limit.penalty_secs) * 1000;
            return Err(key);
        }
        c.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        let l = |count, per_secs, penalty_secs| Limit {
            count,
            per_secs,
            penalty_secs,
        };
        RateLimiter::new(Limits {
            default: l(3, 1, 10),
            batch: l(120, 60, 60),
            broadcast: l(10, 60, 60),
            team_query: l(30, 60, 60),
        })
    }

    #[test]
    fn penalty_outlasts_the_window() {
        let r = limiter();
        for _ in 0..3 {
            assert!(r.check(1, "user/create", 5_000).is_ok());
        }
        assert_eq!(r.check(1, "user/getUinfos", 5_100), Err("user"));
        assert!(
            r.check(1, "user/create", 6_500).is_err(),
            "still in the 10 s penalty"
        );
        assert!(
            r.check(2, "user/create", 6_500).is_ok(),
            "other apps are not affected"
        );
        assert!(
            r.check(1, "dic/listAreas", 6_500).is_ok(),
            "other groups are not affected"
        );
        assert!(r.check(1, "user/create", 15_100).is_ok(), "penalty over");
    }

    #[test]
    fn classes() {
        assert_eq!(
            classify("msg/sendBatchMsg"),
            (LimitClass::Batch, "msg/sendBatchMsg")
        );
        assert_eq!(
            classify("msg/broadcastMsg"),
            (LimitClass::Broadcast, "msg/broadcastMsg")
        );
        assert_eq!(classify("msg/sendMsg"), (LimitClass::Default, "msg"));
        assert_eq!(
            classify("team/query"),
            (LimitClass::TeamQuery, "team/query")
        );
    }
}
