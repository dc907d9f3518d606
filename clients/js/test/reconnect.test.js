// A server restart: the client is told 1001, reconnects with backoff on the same address and
// data directory, resumes from its cursor and misses nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import WebSocket from 'ws';

import { recordingClient, Server, waitFor } from './support.js';

let server;
before(async () => {
  server = await Server.start();
});
after(async () => {
  await server?.destroy();
});

test('after a server restart (1001) the client resumes from its cursor', async () => {
  const token = await server.user('kate');
  const logins = [];
  class Spy extends WebSocket {
    send(data, ...rest) {
      const f = JSON.parse(data);
      if (f.op === 'login') logins.push(f.cursor);
      super.send(data, ...rest);
    }
  }
  const { client, rec } = recordingClient(server, 'kate', token, { WebSocket: Spy });
  const m1 = await server.send(['kate'], 'before');
  await client.connect();
  const m2 = await server.send(['kate'], 'live before');
  await waitFor(() => rec.msgs.length === 2, 'two messages');

  await server.restart();
  const going = rec.statuses.find((s) => s.state === 'reconnecting');
  assert.equal(going.closeCode, 1001);
  const m3 = await server.send(['kate'], 'after');
  await waitFor(() => rec.msgs.length === 3, 'the message sent after the restart');
  await waitFor(() => client.state === 'live', 'live again');
  assert.deepEqual(rec.ids(), [m1, m2, m3]);
  assert.equal(logins[0], 0);
  assert.equal(logins.at(-1), m2, 'the last login carries the cursor');
  await waitFor(() => rec.saved.at(-1) === m3, 'the cursor acked and saved');
  await client.close();
});

test('a cursor the server never had is reset, and what is sent next arrives', async () => {
  const token = await server.user('lena');
  const m1 = await server.send(['lena'], 'old');
  const resets = [];
  const { client, rec } = recordingClient(server, 'lena', token, {
    cursor: m1 + 1_000_000,
    onReset: (r) => resets.push(r.cursor),
  });
  await client.connect();
  await waitFor(() => client.state === 'live', 'live');
  assert.deepEqual(resets, [m1], 'told the store holds nothing above its latest msgid');
  assert.equal(client.cursor, m1);
  const m2 = await server.send(['lena'], 'new');
  await waitFor(() => rec.msgs.length === 1, 'the message sent after the reset');
  assert.deepEqual(rec.ids(), [m2]);
  await client.close();
});
