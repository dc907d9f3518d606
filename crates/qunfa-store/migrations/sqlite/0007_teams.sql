-- Advanced teams. A team message is stored once (kind 4), its audience the team's members at
-- its msgid, referred to by hash; `tid` names its team. Team traffic is read per team through
-- messages_team, so the shared scan of a catch-up (messages_fanout) no longer walks it.
ALTER TABLE messages ADD COLUMN tid INTEGER;
-- The sender's ordinal when its other sessions get the message too (sent by a client).
ALTER TABLE messages ADD COLUMN from_ordinal INTEGER;
CREATE INDEX messages_team ON messages (app_id, tid, msgid) WHERE tid IS NOT NULL;
DROP INDEX messages_fanout;
CREATE INDEX messages_fanout ON messages (app_id, msgid) WHERE audience_hash IS NOT NULL AND tid IS NULL;

-- The next tid of each app (tids are never reused).
CREATE TABLE team_seqs (
    app_id   INTEGER PRIMARY KEY REFERENCES apps(id),
    next_tid INTEGER NOT NULL
);

-- One row per team, dismissed ones kept. `version` is bumped by every change of the team, its
-- members or its pending lists (writes decided on an older one are refused); `seq` is the
-- app's change_seq of the last change, which nodes follow.
CREATE TABLE teams (
    app_id                  INTEGER NOT NULL REFERENCES apps(id),
    tid                     INTEGER NOT NULL,
    tname                   TEXT    NOT NULL,
    owner                   TEXT    NOT NULL,
    icon                    TEXT    NOT NULL DEFAULT '',
    announcement            TEXT    NOT NULL DEFAULT '',
    intro                   TEXT    NOT NULL DEFAULT '',
    custom                  TEXT    NOT NULL DEFAULT '',
    client_custom           TEXT    NOT NULL DEFAULT '',
    joinmode                INTEGER NOT NULL DEFAULT 0,
    beinvitemode            INTEGER NOT NULL DEFAULT 0,
    invitemode              INTEGER NOT NULL DEFAULT 0,
    uptinfomode             INTEGER NOT NULL DEFAULT 0,
    upcustommode            INTEGER NOT NULL DEFAULT 0,
    max_users               INTEGER NOT NULL,
    mute_type               INTEGER NOT NULL DEFAULT 0,
    notify_close_online     INTEGER NOT NULL DEFAULT 0,
    notify_close_persistent INTEGER NOT NULL DEFAULT 0,
    created_ms              INTEGER NOT NULL,
    updated_ms              INTEGER NOT NULL,
    dismissed               INTEGER NOT NULL DEFAULT 0,
    version                 INTEGER NOT NULL,
    seq                     INTEGER NOT NULL,
    PRIMARY KEY (app_id, tid)
) WITHOUT ROWID;
CREATE INDEX teams_seq ON teams (app_id, seq);
CREATE INDEX teams_owner ON teams (app_id, owner) WHERE dismissed = 0;

-- Members, current and former (`active` 0): a node follows departures through `seq` too.
CREATE TABLE team_members (
    app_id      INTEGER NOT NULL REFERENCES apps(id),
    tid         INTEGER NOT NULL,
    ordinal     INTEGER NOT NULL,
    accid       TEXT    NOT NULL,
    role        INTEGER NOT NULL,          -- 0 owner, 1 manager, 2 member
    nick        TEXT    NOT NULL DEFAULT '',
    mute        INTEGER NOT NULL DEFAULT 0,
    custom      TEXT    NOT NULL DEFAULT '',
    push_enable INTEGER NOT NULL DEFAULT 1,
    joined_ms   INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
) WITHOUT ROWID;
CREATE INDEX team_members_seq ON team_members (app_id, seq);
CREATE INDEX team_members_of ON team_members (app_id, ordinal, tid) WHERE active = 1;

-- When each account was a member: it sees the team messages with join < msgid <= leave.
CREATE TABLE team_periods (
    app_id      INTEGER NOT NULL REFERENCES apps(id),
    tid         INTEGER NOT NULL,
    ordinal     INTEGER NOT NULL,
    join_msgid  INTEGER NOT NULL,
    leave_msgid INTEGER,
    PRIMARY KEY (app_id, tid, ordinal, join_msgid)
) WITHOUT ROWID;
CREATE INDEX team_periods_of ON team_periods (app_id, ordinal, tid);

-- Pending invitations (magree=1) and applications (joinmode=1): not members, no seat.
CREATE TABLE team_invites (
    app_id  INTEGER NOT NULL REFERENCES apps(id),
    tid     INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    accid   TEXT    NOT NULL,
    inviter TEXT    NOT NULL,
    msg     TEXT    NOT NULL,
    attach  TEXT,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
) WITHOUT ROWID;
CREATE INDEX team_invites_of ON team_invites (app_id, ordinal);

CREATE TABLE team_applies (
    app_id  INTEGER NOT NULL REFERENCES apps(id),
    tid     INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    accid   TEXT    NOT NULL,
    msg     TEXT    NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
) WITHOUT ROWID;
