-- 抄送 (message copy) and 第三方回调 (pre-send check): each app's settings, the outbox of events
-- waiting for the app's server, and which node delivers an app's events.
ALTER TABLE apps ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN callback_events TEXT NOT NULL DEFAULT 'messages,recalls,logins';
ALTER TABLE apps ADD COLUMN pre_send_url TEXT NOT NULL DEFAULT '';

-- One row per event until it is delivered (then deleted) or kept as a dead letter (`dead`).
-- Message and recall events name their message (`msgid`) and are written in the transaction
-- that stores it; `ctx` holds what the payload needs besides the message (the whole payload
-- of a login). AUTOINCREMENT: an id (the wire's eventId) is never handed out twice.
CREATE TABLE callback_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     INTEGER NOT NULL REFERENCES apps(id),
    msgid      INTEGER,
    event_type TEXT    NOT NULL,
    ctx        TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_ms    INTEGER NOT NULL,
    dead       INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX callback_events_order ON callback_events (app_id, dead, id);
CREATE INDEX callback_events_due ON callback_events (app_id, dead, next_ms);

-- The node delivering an app's events, until `until_ms` (then any node may take over).
CREATE TABLE callback_leases (
    app_id   INTEGER PRIMARY KEY REFERENCES apps(id),
    node     TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
);
