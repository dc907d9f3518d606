-- Sends were paying for an index no query needs: mass and broadcast listings use
-- messages_fanout (every such message has an audience). msgids are now handed out by the
-- writer from max(msgid), so apps.next_msgid is no longer written on each send.
DROP INDEX messages_kind;
