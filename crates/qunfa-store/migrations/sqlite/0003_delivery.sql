-- Delivery and read tracking, compact: one cursor per account (everything up to it arrived),
-- one bitmap of reader ordinals per message. Never a row per recipient per message.
CREATE TABLE cursors (
    app_id  INTEGER NOT NULL REFERENCES apps(id),
    ordinal INTEGER NOT NULL,
    cursor  INTEGER NOT NULL,
    PRIMARY KEY (app_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX cursors_by_value ON cursors (app_id, cursor);

CREATE TABLE reads (
    app_id  INTEGER NOT NULL REFERENCES apps(id),
    msgid   INTEGER NOT NULL,
    readers BLOB    NOT NULL,
    PRIMARY KEY (app_id, msgid)
) WITHOUT ROWID;
