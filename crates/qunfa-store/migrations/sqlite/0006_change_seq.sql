-- Nodes follow writes they did not make through a per-app change sequence: every account,
-- dictionary and keyword-list write bumps apps.change_seq in its transaction (commit order, one
-- writer), and stamps the rows it wrote. A node's audience index reads "accounts with seq > the
-- one I have" to catch up. Kicks are recorded too, so a node that missed the event still ends
-- the sessions.
ALTER TABLE apps ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN dict_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN words_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN kick_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN kick_reason TEXT;
CREATE INDEX accounts_seq ON accounts (app_id, seq);
-- A deployment's identity: `qunfa migrate` records it in the target, so a second run knows
-- the target holds this source's data and not another's.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('deployment_id', lower(hex(randomblob(16))));
