-- Apps (tenants). next_ordinal hands out the dense per-app account numbers of the audience index.
CREATE TABLE apps (
    id           INTEGER PRIMARY KEY,
    appkey       TEXT    NOT NULL UNIQUE,
    secret       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    next_ordinal INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE accounts (
    app_id       INTEGER NOT NULL REFERENCES apps(id),
    ordinal      INTEGER NOT NULL,
    accid        TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL,
    name         TEXT,
    icon         TEXT,
    sign         TEXT,
    email        TEXT,
    birth        TEXT,
    mobile       TEXT,
    gender       INTEGER NOT NULL DEFAULT 0,
    ex           TEXT,
    props        TEXT,
    areaid       TEXT,
    enterptypeid TEXT,
    blocked      INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (app_id, ordinal)
) WITHOUT ROWID;
CREATE UNIQUE INDEX accounts_accid ON accounts (app_id, accid);
CREATE INDEX accounts_areaid ON accounts (app_id, areaid) WHERE areaid IS NOT NULL;
CREATE INDEX accounts_enterptypeid ON accounts (app_id, enterptypeid) WHERE enterptypeid IS NOT NULL;

CREATE TABLE areas (
    app_id   INTEGER NOT NULL REFERENCES apps(id),
    areaid   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    parentid TEXT,
    PRIMARY KEY (app_id, areaid)
) WITHOUT ROWID;
CREATE INDEX areas_parent ON areas (app_id, parentid) WHERE parentid IS NOT NULL;

CREATE TABLE enterptypes (
    app_id       INTEGER NOT NULL REFERENCES apps(id),
    enterptypeid TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    PRIMARY KEY (app_id, enterptypeid)
) WITHOUT ROWID;
