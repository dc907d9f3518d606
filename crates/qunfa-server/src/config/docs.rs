//! [`DOCS`]: the documentation of every config key, in the order `qunfa config --example`
//! prints them. A test in the parent module checks that it names every key.

/// Every key, with what it does. The example config and `docs/operations.md` come from here.
pub const DOCS: &[(&str, &str)] = &[
    (
        "listen",
        "Address the HTTP API and WebSocket gateway listen on.",
    ),
    (
        "data_dir",
        "Directory holding the embedded SQLite database (created if missing) when `store.url` is empty.",
    ),
    (
        "bootstrap_app",
        "On a first start with no app, create one and print its AppKey and AppSecret.",
    ),
    (
        "log.level",
        "Log filter, in `RUST_LOG` syntax (e.g. \"info\" or \"qunfa_server=debug,info\"). Logs go to stderr. (`log = \"debug\"` and QUNFA_LOG still set this.)",
    ),
    (
        "log.format",
        "\"text\" (coloured only when stderr is a terminal and NO_COLOR is unset) or \"json\": one object per line with ts, level, target, msg and the event's fields.",
    ),
    (
        "log.access",
        "One info line per API call (target qunfa::access): endpoint, appkey, code, duration_ms, client, request_id.",
    ),
    (
        "metrics.listen",
        "Empty: GET /metrics (Prometheus text) is served on the API listener, unsigned. An address (e.g. \"127.0.0.1:9464\"): /metrics, /healthz and /readyz are served there instead, and the API listener answers 404 for /metrics.",
    ),
    (
        "api.max_body_bytes",
        "Largest request body accepted; a larger one answers 414 before it is read whole.",
    ),
    (
        "api.curtime_window_secs",
        "How far the CurTime header may be from the server clock, in seconds (NIM: 300).",
    ),
    (
        "api.replay_check",
        "A repeated (AppKey, Nonce, CurTime) inside the CurTime window: \"strict\" answers 431 (NIM's rule), \"log\" accepts it and logs a warning (for clients that reuse a Nonce, while they are fixed), \"off\" does not check. true and false mean \"strict\" and \"off\".",
    ),
    (
        "api.app_refresh_ms",
        "How often the server re-reads the app table, so `qunfa app disable` takes effect.",
    ),
    (
        "api.header_timeout_secs",
        "A connection must send a whole request head within this many seconds, and an idle keep-alive connection is closed after it.",
    ),
    (
        "api.body_timeout_secs",
        "A request body must arrive whole within this many seconds; else the answer is 408 and the connection closes.",
    ),
    (
        "api.max_pending_connections",
        "Connections open at once that have not made a request yet; past it, new connections are closed at once (file descriptors are kept for real clients).",
    ),
    (
        "api.trusted_proxies",
        "Reverse proxies (addresses or networks, like [\"10.0.0.0/8\"]) whose X-Forwarded-For names the client: for login throttling per address and the access log's client. Empty: every connection's own address is the client.",
    ),
    (
        "store.url",
        "Where the data lives: empty for the embedded SQLite database in `data_dir`, or postgres://USER@HOST/DB (optionally ?schema=NAME) for PostgreSQL, which many nodes can share.",
    ),
    (
        "store.synchronous_full",
        "SQLite PRAGMA synchronous=FULL: acknowledged writes survive power loss, not only a crash.",
    ),
    (
        "store.pool_size",
        "PostgreSQL connections this node keeps open.",
    ),
    (
        "bus.url",
        "How nodes wake each other: empty for in-process (one node), or nats://HOST:PORT.",
    ),
    (
        "bus.poll_ms",
        "How often the node also polls the store for what other nodes wrote: a lost bus event costs at most this long.",
    ),
    (
        "bus.prefix",
        "Prefix of the NATS subjects, so deployments (or test runs) sharing a NATS server stay apart.",
    ),
    (
        "rate_limits.enabled",
        "Apply the per-app rate limits below (NIM answers 416 over them).",
    ),
    (
        "rate_limits.default.count",
        "Calls allowed per window, per app and API group (user, msg, dic, history, …).",
    ),
    ("rate_limits.default.per_secs", "Window length in seconds."),
    (
        "rate_limits.default.penalty_secs",
        "Once over the limit, the app gets 416 for this long.",
    ),
    (
        "rate_limits.batch.count",
        "Calls per window for msg/sendBatchMsg and msg/sendBatchAttachMsg, per app.",
    ),
    ("rate_limits.batch.per_secs", "Window length in seconds."),
    ("rate_limits.batch.penalty_secs", "Penalty in seconds."),
    (
        "rate_limits.broadcast.count",
        "Calls per window for msg/broadcastMsg, per app.",
    ),
    (
        "rate_limits.broadcast.per_secs",
        "Window length in seconds.",
    ),
    ("rate_limits.broadcast.penalty_secs", "Penalty in seconds."),
    (
        "rate_limits.team_query.count",
        "Calls per window for team/query, per app (NIM: 30 a minute), besides the team group's limit.",
    ),
    (
        "rate_limits.team_query.per_secs",
        "Window length in seconds.",
    ),
    ("rate_limits.team_query.penalty_secs", "Penalty in seconds."),
    (
        "messages.max_body_chars",
        "Longest message `body`, in characters (NIM: 5000).",
    ),
    (
        "messages.recall_window_secs",
        "How long after sending a message can be recalled (NIM: 120); `ignoreTime=1` skips the check.",
    ),
    (
        "messages.system_accid",
        "The sender of sendMsgToAll calls without `from`; created on first use, never a recipient.",
    ),
    (
        "messages.dedupe_window_secs",
        "How long a sendMsgToAll `msgidclient` is remembered: a repeat answers the first send's result.",
    ),
    (
        "antispam.words_file",
        "A file of keywords (one per line, # comments) blocked for every app, besides each app's own list.",
    ),
    (
        "gateway.login_timeout_secs",
        "A WebSocket client must log in within this many seconds (close 4002).",
    ),
    (
        "gateway.ping_secs",
        "How often the server pings each WebSocket client.",
    ),
    (
        "gateway.idle_timeout_secs",
        "A client that sends nothing (not even a pong) this long is closed (4002).",
    ),
    (
        "gateway.queue_frames",
        "Frames queued per connection; a client that falls this far behind is closed (4008) and resyncs.",
    ),
    (
        "gateway.sync_page",
        "Messages per store query while a client catches up after login.",
    ),
    (
        "gateway.max_frame_bytes",
        "Largest frame a client may send.",
    ),
    (
        "gateway.read_buffer_bytes",
        "No longer used (kept so existing config files load): the gateway reads into a buffer that grows in 512-byte steps as a frame needs and is given back whenever the connection is idle.",
    ),
    (
        "gateway.write_buffer_bytes",
        "No longer used (kept so existing config files load): queued frames go out in one gathered write (sendmsg) straight from the shared frame bytes, up to 512 frames per wake-up.",
    ),
    (
        "gateway.send_buffer_bytes",
        "Kernel send buffer per socket (SO_SNDBUF, which Linux doubles; 0: the kernel's, which grows to megabytes). Bounds what a client that stops reading holds, so its close 4008 is not queued behind megabytes.",
    ),
    (
        "gateway.close_timeout_secs",
        "How long a close frame (a slow client's 4008, a kick, shutdown's 1001) may wait for the client to read what is ahead of it; then the connection is dropped.",
    ),
    (
        "gateway.flush_ms",
        "How often client acks and read reports are written to the store.",
    ),
    (
        "gateway.login_max_failures",
        "Wrong tokens for one account within `login_window_secs` after which its logins answer 416 until the window passes.",
    ),
    (
        "gateway.login_max_failures_per_address",
        "Failed logins from one client address within `login_window_secs` after which that address's logins answer 416 until the window passes.",
    ),
    (
        "gateway.login_window_secs",
        "The window of the login failure counts, in seconds.",
    ),
    (
        "gateway.send_rate_per_sec",
        "Messages one account may send over the gateway per second (on each node it is connected to); more answer `sent` with 416.",
    ),
    (
        "gateway.send_burst",
        "Sends an account may make at once before `gateway.send_rate_per_sec` applies.",
    ),
    (
        "teams.max_members",
        "The largest teamMemberLimit a team may have (NIM's console maximum: 2000; up to 1000000). A send to a big team costs what a send to a small one does.",
    ),
    (
        "teams.max_owned",
        "Teams (not dismissed) one account may own; one more answers 806 (NIM's default: 500).",
    ),
    (
        "teams.max_joined",
        "Teams one account may be a member of (NIM: 5000); invitees at it are left out (faccid).",
    ),
    (
        "teams.max_managers",
        "Managers one team may have; an addManager past it answers 815.",
    ),
    (
        "teams.read_receipts",
        "Team read receipts (markRead=1 on team sends, markReadTeamMsg, getMarkReadInfo); off: they answer 814.",
    ),
    (
        "callbacks.timeout_ms",
        "How long the app's server has to answer a copied event (抄送) with HTTP 200; longer, or any other answer, is a failed attempt.",
    ),
    (
        "callbacks.backoff_initial_ms",
        "Wait before the first retry of a failed event; each further retry waits twice as long.",
    ),
    (
        "callbacks.backoff_max_ms",
        "The longest wait between two attempts of one event.",
    ),
    (
        "callbacks.max_attempts",
        "Attempts per event in all; then it is kept as a dead letter (`qunfa app callbacks KEY`, `--resend`).",
    ),
    (
        "callbacks.pre_send_timeout_ms",
        "How long the app's pre-send check (第三方回调) may take: one attempt, the client's send waits for it.",
    ),
    (
        "callbacks.pre_send_on_failure",
        "What a client's send becomes when the pre-send check times out or answers badly: \"pass\" (stored) or \"block\" (refused 403).",
    ),
    (
        "callbacks.poll_ms",
        "How often a node looks for events due (others' writes, retries); events this node writes go out at once.",
    ),
    (
        "callbacks.lease_ms",
        "How long a node holds the right to deliver an app's events without renewing it: after a node dies, another takes over within this. Keep it well above `timeout_ms`: it is renewed before an attempt and must outlive it.",
    ),
    (
        "callbacks.concurrency",
        "Apps whose events one node delivers at once (one connection each); more wait their turn.",
    ),
];
