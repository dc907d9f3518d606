//! The closed table of public answer codes, and the error every request path returns.
//!
//! Every answer is HTTP 200 with `{"code":N}`; failures carry a `desc` that names the
//! offending parameter. Internal detail (a database error text) never reaches the wire: it
//! travels in [`ApiError::detail`] for the logs only.

use std::fmt;

/// The NIM answer codes qunfa gives. Numbers are NIM's; see `shared/reference/nim-server-api.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// 200 操作成功: success.
    Ok,
    /// 301 被封禁: the account is blocked (client login).
    Banned,
    /// 302 用户名或密码错误: wrong accid or token (client login).
    BadLogin,
    /// 403 非法操作或没有权限: e.g. the app is disabled.
    Forbidden,
    /// 404 对象不存在: unknown endpoint or object.
    NotFound,
    /// 408 客户端请求超时: the request body did not arrive in time.
    Timeout,
    /// 414 参数错误: a bad parameter, header, signature or body.
    BadParam,
    /// 416 频率控制: the app called too often and is blocked for the penalty period.
    RateLimited,
    /// 417 重复操作 / in use: the object is still referenced.
    Conflict,
    /// 419 数量超过上限: a count exceeds its limit.
    TooMany,
    /// 422 账号被禁用: the account is disabled.
    AccountDisabled,
    /// 431 HTTP重复请求: the same (AppKey, Nonce, CurTime) was already accepted.
    Repeated,
    /// 500 服务器内部错误: a fault on our side; details are in the server log.
    Internal,
    /// 508 消息撤回时间超限: past the recall window.
    RecallExpired,
    /// 801 群人数达到上限: the team is full.
    TeamFull,
    /// 802 没有权限: the operator lacks the role (or the owner tries to leave).
    TeamNoPermission,
    /// 803 群不存在: unknown or dismissed team.
    TeamNotFound,
    /// 804 用户不在群: the operator, target, sender or reader is not a member.
    NotInTeam,
    /// 806 创建群数量达到限制: the account owns `teams.max_owned` teams already.
    TeamOwnLimit,
    /// 807 群成员状态错误: the role or pending state is wrong for the operation.
    TeamMemberState,
    /// 809 已经在群内: already a member.
    AlreadyInTeam,
    /// 811 @账号数量超过限制: more than 100 accounts in `forcepushlist`.
    TooManyAt,
    /// 812 群禁言: the sender is banned, or the team is.
    TeamMuted,
    /// 814 禁止使用群组已读服务: team read receipts are switched off.
    TeamReadsOff,
    /// 815 群管理员人数超过上限: `teams.max_managers` would be exceeded.
    TeamManagerLimit,
}

impl Code {
    pub const fn as_u16(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Banned => 301,
            Code::BadLogin => 302,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::Timeout => 408,
            Code::BadParam => 414,
            Code::RateLimited => 416,
            Code::Conflict => 417,
            Code::TooMany => 419,
            Code::AccountDisabled => 422,
            Code::Repeated => 431,
            Code::Internal => 500,
            Code::RecallExpired => 508,
            Code::TeamFull => 801,
            Code::TeamNoPermission => 802,
            Code::TeamNotFound => 803,
            Code::NotInTeam => 804,
            Code::TeamOwnLimit => 806,
            Code::TeamMemberState => 807,
            Code::AlreadyInTeam => 809,
            Code::TooManyAt => 811,
            Code::TeamMuted => 812,
            Code::TeamReadsOff => 814,
            Code::TeamManagerLimit => 815,
        }
    }
}

/// A failed request: a public code and `desc`, plus private detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub desc: String,
    /// Logged, never sent.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(code: Code, desc: impl Into<String>) -> Self {
        ApiError {
            code,
            desc: desc.into(),
            detail: None,
        }
    }

    /// 414 for a bad parameter; `desc` must name it.
    pub fn param(desc: impl Into<String>) -> Self {
        Self::new(Code::BadParam, desc)
    }

    /// 414 "missing parameter: NAME".
    pub fn missing(name: &str) -> Self {
        Self::param(format!("missing parameter: {name}"))
    }

    /// 414 "NAME is longer than MAX characters".
    pub fn too_long(name: &str, max: usize) -> Self {
        Self::param(format!("{name} is longer than {max} characters"))
    }

    /// 500 with the cause kept for the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            code: Code::Internal,
            desc: "internal error".into(),
            detail: Some(detail.into()),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.as_u16(), self.desc)
    }
}

impl std::error::Error for ApiError {}
