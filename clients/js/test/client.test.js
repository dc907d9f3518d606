// QunfaClient against a real qunfa server over real WebSockets (`ws`).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import WebSocket from 'ws';

import { wsUrl } from '../qunfa.js';
import { recordingClient, Server, sleep, waitFor } from './support.js';

/**
 * A `ws` WebSocket that records every socket, the login cursors sent and the frames received,
 * and with `resend` logs in with cursor 0 after the first connection, as a server that resends
 * everything would behave.
 */
function spySocket({ resend = false } = {}) {
  const spy = { sockets: [], logins: [], frames: [] };
  spy.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      spy.sockets.push(this);
      this.on('message', (data) => spy.frames.push(JSON.parse(String(data))));
    }

    send(data, ...rest) {
      const f = JSON.parse(data);
      if (f.op === 'login') {
        spy.logins.push(f.cursor);
        if (resend && spy.logins.length > 1) f.cursor = 0;
      }
      super.send(JSON.stringify(f), ...rest);
    }
  };
  spy.last = () => spy.sockets.at(-1);
  return spy;
}

let server;
before(async () => {
  server = await Server.start();
});
after(async () => {
  await server?.destroy();
});

describe('wsUrl', () => {
  test('adds /ws to an HTTP base and maps the scheme', () => {
    assert.equal(wsUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
    assert.equal(wsUrl('https://im.example.com/qunfa/'), 'wss://im.example.com/qunfa/ws');
    assert.equal(wsUrl('ws://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
    assert.equal(wsUrl('wss://h/custom/path'), 'wss://h/custom/path');
    assert.throws(() => wsUrl('ftp://h'), TypeError);
  });
});

test('login, catch-up in msgid order, then live messages; the cursor is acked', async () => {
  const token = await server.user('alice');
  const m1 = await server.send(['alice'], 'one');
  const m2 = await server.send(['alice'], 'two');
  const { client, rec } = recordingClient(server, 'alice', token);
  await client.connect();
  assert.deepEqual(rec.ids(), [m1, m2]);
  assert.deepEqual(rec.msgs.map((m) => m.live), [false, false]);
  assert.deepEqual(rec.states(), ['connecting', 'syncing', 'live']);
  assert.equal(rec.msgs[0].kind, 'mass');
  assert.equal(rec.msgs[0].from, 'qunfa.system');
  assert.equal(rec.msgs[0].type, 0);
  assert.deepEqual(rec.msgs[0].body, { msg: 'one' });

  const m3 = await server.send(['alice'], 'three');
  await waitFor(() => rec.msgs.length === 3, 'the live message');
  assert.deepEqual(rec.msgs[2], { ...rec.msgs[2], msgid: m3, live: true, body: { msg: 'three' } });
  await waitFor(() => rec.saved.at(-1) === m3, 'the cursor saved');
  assert.equal(client.cursor, m3);
  const stats = await waitFor(async () => {
    const r = await server.ok('msg/queryMassMsgStats', { msgid: m3 });
    return r.data.delivered === 1 && r.data;
  }, 'the ack counted as delivery');
  assert.deepEqual(stats, { msgid: m3, recipients: 1, delivered: 1, read: 0 });
  await client.close();
  assert.equal(rec.states().at(-1), 'closed');
  assert.deepEqual(rec.errors, []);
});

test('a refused login (4001) rejects connect(), reports the code and is not retried', async () => {
  await server.user('bob');
  const { client, rec } = recordingClient(server, 'bob', 'not-the-token');
  await assert.rejects(client.connect(), (e) => e.state === 'refused' && e.code === 302);
  const refused = rec.statuses.at(-1);
  assert.deepEqual(refused, {
    state: 'refused', cursor: 0, closeCode: 4001, code: 302, desc: 'wrong accid or token',
  });
  await sleep(300);
  assert.deepEqual(rec.states(), ['connecting', 'refused']);
});

test('recalls reach onRecall live and on catch-up, and move the cursor', async () => {
  const tokens = { carl: await server.user('carl'), dora: await server.user('dora') };
  const { client, rec } = recordingClient(server, 'carl', tokens.carl);
  await client.connect();
  const m = await server.send(['carl', 'dora'], 'oops');
  await waitFor(() => rec.msgs.length === 1, 'the message');
  const r = await server.ok('msg/recallMassMsg', { msgid: m });
  assert.deepEqual(r, { code: 200 });
  const recall = await waitFor(() => rec.recalls[0], 'the recall');
  assert.equal(recall.recallMsgid, m);
  assert.equal(recall.from, 'qunfa.system');
  assert.ok(recall.msgid > m, 'the notice has its own msgid after the message');
  assert.equal(typeof recall.time, 'number');
  await waitFor(() => rec.saved.at(-1) === recall.msgid, 'the cursor covering the recall');
  await client.close();

  // Offline: only the notice is sent (a recalled message never is).
  const late = recordingClient(server, 'dora', tokens.dora);
  await late.client.connect();
  assert.deepEqual(late.rec.ids(), []);
  assert.deepEqual(late.rec.recalls.map((x) => [x.msgid, x.recallMsgid]), [[recall.msgid, m]]);
  assert.equal(late.client.cursor, recall.msgid);
  await late.client.close();
});

test("markRead sends a receipt to the sender's client, also when called before connecting", async () => {
  const tokens = { shop: await server.user('shop'), emma: await server.user('emma'), finn: await server.user('finn') };
  const shop = recordingClient(server, 'shop', tokens.shop);
  await shop.client.connect();
  const emma = recordingClient(server, 'emma', tokens.emma);
  await emma.client.connect();
  const m = await server.send(['emma', 'finn'], 'please read', { from: 'shop', markRead: 1 });
  const got = await waitFor(() => emma.rec.msgs[0], 'the message');
  assert.equal(got.markRead, true);
  assert.equal(got.from, 'shop');
  emma.client.markRead(got.msgid);
  const receipt = await waitFor(() => shop.rec.receipts[0], 'the receipt');
  assert.equal(receipt.msgid, m);
  assert.equal(receipt.reader, 'emma');
  assert.equal(typeof receipt.time, 'number');

  // Reads asked for while offline go out after the login.
  const finn = recordingClient(server, 'finn', tokens.finn);
  finn.client.markRead(m);
  await finn.client.connect();
  await waitFor(() => shop.rec.receipts.length === 2, 'the second receipt');
  assert.equal(shop.rec.receipts[1].reader, 'finn');
  const stats = await server.ok('msg/queryMassMsgStats', { msgid: m });
  assert.equal(stats.data.read, 2);
  await Promise.all([shop.client.close(), emma.client.close(), finn.client.close()]);
});

test('loadCursor and saveCursor: a new client resumes where the last one stopped', async () => {
  const token = await server.user('gwen');
  const m1 = await server.send(['gwen'], 'one');
  const m2 = await server.send(['gwen'], 'two');
  let stored = m1;
  const hooks = {
    loadCursor: async () => stored,
    saveCursor: async (c) => {
      stored = c;
    },
  };
  const first = recordingClient(server, 'gwen', token, hooks);
  await first.client.connect();
  assert.deepEqual(first.rec.ids(), [m2], 'what is at or below the loaded cursor is not sent again');
  await first.client.close();
  assert.equal(stored, m2, 'close() saves the cursor');

  const m3 = await server.send(['gwen'], 'three');
  const second = recordingClient(server, 'gwen', token, hooks);
  await second.client.connect();
  assert.deepEqual(second.rec.ids(), [m3]);
  await waitFor(() => stored === m3, 'the cursor saved after the catch-up');
  await second.client.close();
});

test('after a network loss the client reconnects with its cursor and catches up', async () => {
  const token = await server.user('hugo');
  const spy = spySocket();
  const { client, rec } = recordingClient(server, 'hugo', token, { WebSocket: spy.WebSocket });
  await client.connect();
  const m1 = await server.send(['hugo'], 'one');
  await waitFor(() => rec.msgs.length === 1, 'the first message');
  spy.last().terminate();
  const m2 = await server.send(['hugo'], 'two');
  await waitFor(() => rec.msgs.length === 2, 'the message sent during the outage');
  assert.deepEqual(rec.ids(), [m1, m2]);
  assert.deepEqual(spy.logins, [0, m1]);
  const lost = rec.statuses.find((s) => s.state === 'reconnecting');
  assert.equal(lost.closeCode, 1006);
  assert.equal(lost.attempt, 1);
  assert.ok(lost.delayMs >= 25 && lost.delayMs <= 50, `first delay ${lost.delayMs} ms`);
  await waitFor(() => client.state === 'live', 'live again');
  await client.close();
});

test('messages the server resends after a reconnect are delivered once', async () => {
  const token = await server.user('iris');
  const spy = spySocket({ resend: true });
  const { client, rec } = recordingClient(server, 'iris', token, { WebSocket: spy.WebSocket });
  const m1 = await server.send(['iris'], 'one');
  await client.connect();
  const m2 = await server.send(['iris'], 'two');
  await waitFor(() => rec.msgs.length === 2, 'two messages');
  spy.last().terminate();
  await waitFor(() => spy.logins.length === 2 && client.state === 'live', 'the second login');
  const m3 = await server.send(['iris'], 'three');
  await waitFor(() => rec.msgs.length === 3, 'the third message');
  await sleep(100);
  const sent = spy.frames.filter((f) => f.op === 'msg').map((f) => f.msg.msgid);
  assert.deepEqual(sent, [m1, m2, m1, m2, m3], 'the server did resend');
  assert.deepEqual(rec.ids(), [m1, m2, m3]);
  await client.close();
});

test('a kick (refreshToken, 4003) stops the client; a new token lets it connect again', async () => {
  const token = await server.user('jack');
  const { client, rec } = recordingClient(server, 'jack', token);
  await client.connect();
  const r = await server.ok('user/refreshToken', { accid: 'jack' });
  await waitFor(() => client.state === 'kicked', 'the kick');
  assert.deepEqual(rec.statuses.at(-1), {
    state: 'kicked', cursor: 0, closeCode: 4003, reason: 'token refreshed',
  });
  await sleep(300);
  assert.deepEqual(rec.states(), ['connecting', 'syncing', 'live', 'kicked'], 'no retry');

  client.token = r.info.token;
  await client.connect();
  const m = await server.send(['jack'], 'welcome back');
  await waitFor(() => rec.msgs.length === 1, 'a message');
  assert.equal(rec.ids()[0], m);
  await client.close();
});

test('the heartbeat keeps a quiet connection and replaces one that stopped answering', async () => {
  const token = await server.user('kim');
  const spy = spySocket();
  const { client, rec } = recordingClient(server, 'kim', token, { WebSocket: spy.WebSocket, heartbeatMs: 100 });
  await client.connect();
  // Quiet but alive: pings are answered with pongs, nothing is dropped.
  await sleep(500);
  assert.ok(spy.frames.filter((f) => f.op === 'pong').length >= 2, 'pongs');
  assert.deepEqual(rec.states(), ['connecting', 'syncing', 'live']);

  // A connection that goes silent (nothing read any more) is abandoned and replaced.
  spy.last()._socket.pause();
  const lost = await waitFor(() => rec.statuses.find((s) => s.state === 'reconnecting'), 'the drop');
  assert.equal(lost.reason, 'heartbeat timeout');
  await waitFor(() => spy.sockets.length === 2 && client.state === 'live', 'a new connection');
  const m = await server.send(['kim'], 'still here');
  await waitFor(() => rec.msgs.length === 1, 'the message');
  assert.equal(rec.ids()[0], m);
  await client.close();
  spy.sockets[0].terminate();
});

test('refreshToken: after a kick for a refreshed token the client logs in again with the new one', async () => {
  const token = await server.user('lena');
  let refreshed;
  const asked = [];
  const { client, rec } = recordingClient(server, 'lena', token, {
    refreshToken: async (info) => {
      asked.push(info);
      // What an app does here: ask its backend, which called user/refreshToken.
      return (await refreshed).info.token;
    },
  });
  await client.connect();
  refreshed = server.ok('user/refreshToken', { accid: 'lena' });
  await waitFor(() => asked.length === 1 && client.state === 'live' && client.token !== token, 'the login with the new token');
  assert.deepEqual(asked, [{ reason: 'kicked', closeCode: 4003, desc: 'token refreshed', accid: 'lena' }]);
  assert.equal(client.token, (await refreshed).info.token);
  assert.deepEqual(rec.states(), ['connecting', 'syncing', 'live', 'reconnecting', 'connecting', 'syncing', 'live']);
  const m = await server.send(['lena'], 'after the refresh');
  await waitFor(() => rec.msgs.length === 1, 'a message');
  assert.equal(rec.ids()[0], m);
  await client.close();
});

test('refreshToken: a refused token (302) is renewed once; a renewed token refused again, or no answer, stops it', async () => {
  await server.user('mona');
  const asked = [];
  const first = recordingClient(server, 'mona', 'stale', {
    refreshToken: async (info) => {
      asked.push(info);
      return (await server.ok('user/refreshToken', { accid: 'mona' })).info.token;
    },
  });
  await first.client.connect();
  assert.deepEqual(asked, [{ reason: 'refused', closeCode: 4001, code: 302, desc: 'wrong accid or token', accid: 'mona' }]);
  assert.equal(first.client.state, 'live');
  await first.client.close();

  let calls = 0;
  const wrong = recordingClient(server, 'mona', 'stale', {
    refreshToken: () => {
      calls += 1;
      return 'still-wrong';
    },
  });
  await assert.rejects(wrong.client.connect(), (e) => e.state === 'refused' && e.code === 302);
  assert.equal(calls, 1, 'asked once, not in a loop');

  const none = recordingClient(server, 'mona', 'stale', { refreshToken: () => null });
  await assert.rejects(none.client.connect(), (e) => e.state === 'refused' && e.code === 302);

  // A blocked account's refusal (422) is not about the token: not asked.
  await server.ok('user/block', { accid: 'mona' });
  const blocked = recordingClient(server, 'mona', first.client.token, {
    refreshToken: () => {
      calls += 1;
      return 'x';
    },
  });
  await assert.rejects(blocked.client.connect(), (e) => e.state === 'refused' && e.code === 422);
  assert.equal(calls, 1);
});
