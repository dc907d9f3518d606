-- An audience bitmap is stored once per app and shared by every message that has the same
-- one (the same selection sent again, a recall and its original): 2,000 sends to one province
-- of a million users no longer store 2,000 copies of a 126 KB bitmap, and catching up on them
-- decodes it once. qunfa_audience_hash() is registered by qunfa on the migrating connection.
CREATE TABLE audiences (
    id     INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    hash   BLOB    NOT NULL,
    bits   BLOB    NOT NULL,
    UNIQUE (app_id, hash)
);
ALTER TABLE messages ADD COLUMN audience_hash BLOB;
UPDATE messages SET audience_hash = qunfa_audience_hash(audience) WHERE audience IS NOT NULL;
INSERT OR IGNORE INTO audiences (app_id, hash, bits)
    SELECT app_id, audience_hash, audience FROM messages WHERE audience IS NOT NULL;
UPDATE messages SET audience = NULL WHERE audience IS NOT NULL;
DROP INDEX messages_fanout;
CREATE INDEX messages_fanout ON messages (app_id, msgid) WHERE audience_hash IS NOT NULL;
