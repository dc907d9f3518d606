-- Messages are stored once, whoever they reach. msgid comes from apps.next_msgid, assigned in
-- the writer's commit order, so a client cursor never skips a message that commits late.
ALTER TABLE apps ADD COLUMN next_msgid INTEGER NOT NULL DEFAULT 1;

CREATE TABLE messages (
    app_id      INTEGER NOT NULL REFERENCES apps(id),
    msgid       INTEGER NOT NULL,
    kind        INTEGER NOT NULL,          -- 0 p2p, 1 mass (targeted), 2 broadcast, 3 recall tombstone
    from_accid  TEXT    NOT NULL,
    to_accid    TEXT,                      -- p2p recipient
    to_ordinal  INTEGER,                   -- p2p recipient's ordinal, for sync
    msg_type    INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    ext         TEXT,
    extra       TEXT,                      -- NIM's other send parameters, JSON
    msgidclient TEXT,
    timetag     INTEGER NOT NULL,
    antispam    INTEGER NOT NULL DEFAULT 0,
    mark_read   INTEGER NOT NULL DEFAULT 0,
    recipients  INTEGER NOT NULL DEFAULT 1,
    audience    BLOB,                      -- roaring bitmap of ordinals (mass, broadcast, their recalls)
    selection   TEXT,                      -- what a mass send selected, JSON
    offline     INTEGER NOT NULL DEFAULT 1,
    expire_ms   INTEGER,
    ref_msgid   INTEGER,                   -- recall: the withdrawn message
    recalled_ms INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, msgid)
);
CREATE INDEX messages_to ON messages (app_id, to_ordinal, msgid) WHERE to_ordinal IS NOT NULL;
CREATE INDEX messages_fanout ON messages (app_id, msgid) WHERE audience IS NOT NULL;
CREATE INDEX messages_session ON messages (app_id, from_accid, to_accid, timetag) WHERE kind = 0;
CREATE INDEX messages_kind ON messages (app_id, kind, msgid);
CREATE INDEX messages_client ON messages (app_id, msgidclient) WHERE msgidclient IS NOT NULL;

CREATE TABLE antispam_words (
    app_id INTEGER PRIMARY KEY REFERENCES apps(id),
    words  TEXT NOT NULL                   -- JSON array
);
