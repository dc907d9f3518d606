-- Advanced teams: the same model as migrations/sqlite/0007_teams.sql. A team message is stored
-- once (kind 4) with `tid`, its audience the team's members at its msgid, referred to by hash.
-- Team traffic is read per team (messages_team); the shared scan of a catch-up skips it.
ALTER TABLE messages ADD COLUMN tid BIGINT;
-- The sender's ordinal when its other sessions get the message too (sent by a client).
ALTER TABLE messages ADD COLUMN from_ordinal BIGINT;
CREATE INDEX messages_team ON messages (app_id, tid, msgid) WHERE tid IS NOT NULL;
DROP INDEX messages_fanout;
CREATE INDEX messages_fanout ON messages (app_id, msgid) WHERE audience_hash IS NOT NULL AND tid IS NULL;

CREATE TABLE team_seqs (
    app_id   BIGINT PRIMARY KEY REFERENCES apps(id),
    next_tid BIGINT NOT NULL
);

-- `version` is bumped by every change of the team, its members or its pending lists; `seq`
-- is the app's change_seq of the last change. A change takes the app row's lock (change_seq)
-- then this row's: team writes of an app are serialised, and msgids of their notifications
-- follow commit order through msg_seqs as every message does.
CREATE TABLE teams (
    app_id                  BIGINT   NOT NULL REFERENCES apps(id),
    tid                     BIGINT   NOT NULL,
    tname                   TEXT     NOT NULL,
    owner                   TEXT     NOT NULL,
    icon                    TEXT     NOT NULL DEFAULT '',
    announcement            TEXT     NOT NULL DEFAULT '',
    intro                   TEXT     NOT NULL DEFAULT '',
    custom                  TEXT     NOT NULL DEFAULT '',
    client_custom           TEXT     NOT NULL DEFAULT '',
    joinmode                SMALLINT NOT NULL DEFAULT 0,
    beinvitemode            SMALLINT NOT NULL DEFAULT 0,
    invitemode              SMALLINT NOT NULL DEFAULT 0,
    uptinfomode             SMALLINT NOT NULL DEFAULT 0,
    upcustommode            SMALLINT NOT NULL DEFAULT 0,
    max_users               BIGINT   NOT NULL,
    mute_type               SMALLINT NOT NULL DEFAULT 0,
    notify_close_online     BOOLEAN  NOT NULL DEFAULT false,
    notify_close_persistent BOOLEAN  NOT NULL DEFAULT false,
    created_ms              BIGINT   NOT NULL,
    updated_ms              BIGINT   NOT NULL,
    dismissed               BOOLEAN  NOT NULL DEFAULT false,
    version                 BIGINT   NOT NULL,
    seq                     BIGINT   NOT NULL,
    PRIMARY KEY (app_id, tid)
);
CREATE INDEX teams_seq ON teams (app_id, seq);
CREATE INDEX teams_owner ON teams (app_id, owner) WHERE NOT dismissed;

CREATE TABLE team_members (
    app_id      BIGINT   NOT NULL REFERENCES apps(id),
    tid         BIGINT   NOT NULL,
    ordinal     BIGINT   NOT NULL,
    accid       TEXT     NOT NULL,
    role        SMALLINT NOT NULL,          -- 0 owner, 1 manager, 2 member
    nick        TEXT     NOT NULL DEFAULT '',
    mute        BOOLEAN  NOT NULL DEFAULT false,
    custom      TEXT     NOT NULL DEFAULT '',
    push_enable BOOLEAN  NOT NULL DEFAULT true,
    joined_ms   BIGINT   NOT NULL,
    updated_ms  BIGINT   NOT NULL,
    active      BOOLEAN  NOT NULL DEFAULT true,
    seq         BIGINT   NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
);
CREATE INDEX team_members_seq ON team_members (app_id, seq);
CREATE INDEX team_members_of ON team_members (app_id, ordinal, tid) WHERE active;

CREATE TABLE team_periods (
    app_id      BIGINT NOT NULL REFERENCES apps(id),
    tid         BIGINT NOT NULL,
    ordinal     BIGINT NOT NULL,
    join_msgid  BIGINT NOT NULL,
    leave_msgid BIGINT,
    PRIMARY KEY (app_id, tid, ordinal, join_msgid)
);
CREATE INDEX team_periods_of ON team_periods (app_id, ordinal, tid);

CREATE TABLE team_invites (
    app_id  BIGINT NOT NULL REFERENCES apps(id),
    tid     BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    accid   TEXT   NOT NULL,
    inviter TEXT   NOT NULL,
    msg     TEXT   NOT NULL,
    attach  TEXT,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
);
CREATE INDEX team_invites_of ON team_invites (app_id, ordinal);

CREATE TABLE team_applies (
    app_id  BIGINT NOT NULL REFERENCES apps(id),
    tid     BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    accid   TEXT   NOT NULL,
    msg     TEXT   NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, tid, ordinal)
);
