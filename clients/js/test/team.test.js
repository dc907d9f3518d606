// QunfaClient and teams, against a real qunfa server: sending (team and point-to-point) with
// the answers and refusals, team messages and notifications arriving, multi-device copies,
// recalls, invitations and applications, custom notifications.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { recordingClient, Server, waitFor } from './support.js';

let server;
before(async () => {
  server = await Server.start();
});
after(async () => {
  await server?.destroy();
});

async function team(owner, members, extra = {}) {
  const r = await server.ok('team/create', {
    tname: 'team', owner, members, msg: 'join', magree: 0, joinmode: 0, ...extra,
  });
  return r.tid;
}

test('team messages and notifications arrive; send answers the msgid, refusals reject with the code', async () => {
  const [ta, tb] = [await server.user('ann'), await server.user('bob')];
  const tid = await team('ann', ['bob']);
  const a = recordingClient(server, 'ann', ta);
  const b = recordingClient(server, 'bob', tb);
  const b2 = recordingClient(server, 'bob', tb);
  await Promise.all([a.client.connect(), b.client.connect(), b2.client.connect()]);
  // The creation notification was caught up on.
  assert.equal(b.rec.msgs[0].kind, 'team');
  assert.equal(b.rec.msgs[0].type, 5);
  assert.equal(b.rec.msgs[0].attach.id, 0);

  const sent = await b.client.send({ tid, body: { msg: 'hi ann' }, msgidClient: 'k-1' });
  assert.equal(sent.code, 200);
  assert.equal(sent.msgidClient, 'k-1');
  await waitFor(() => a.rec.ids().includes(sent.msgid), 'ann gets it');
  await waitFor(() => b2.rec.ids().includes(sent.msgid), "bob's other device gets it");
  const got = a.rec.msgs.find((m) => m.msgid === sent.msgid);
  assert.deepEqual(
    { kind: got.kind, tid: got.tid, from: got.from, body: got.body, live: got.live },
    { kind: 'team', tid, from: 'bob', body: { msg: 'hi ann' }, live: true },
  );
  // The same key again is the same message.
  assert.equal((await b.client.send({ tid, body: { msg: 'hi ann' }, msgidClient: 'k-1' })).msgid, sent.msgid);

  // Point-to-point from a client.
  const dm = await a.client.send({ to: 'bob', body: { msg: 'dm' } });
  await waitFor(() => b.rec.ids().includes(dm.msgid) && b2.rec.ids().includes(dm.msgid), 'both of bob');

  // Refusals carry sendMsg's code and desc.
  await assert.rejects(b.client.send({ tid: 999, body: { msg: 'x' } }), (e) => e.code === 803 && e.desc === 'team 999 not found');
  await assert.rejects(b.client.send({ tid, body: { msg: 1 } }), (e) => e.code === 414);
  await server.ok('team/muteTlist', { tid, owner: 'ann', accid: 'bob', mute: 1 });
  await assert.rejects(b.client.send({ tid, body: { msg: 'x' } }), (e) => e.code === 812);

  // Recall: gone for everyone.
  await a.client.recall(dm.msgid);
  await waitFor(() => b.rec.recalls.some((r) => r.recallMsgid === dm.msgid), 'the recall');
  await assert.rejects(b.client.recall(dm.msgid), (e) => e.code === 404);

  // Notifications of team operations arrive as team messages of type 5.
  await server.ok('team/update', { tid, owner: 'ann', tname: 'renamed' });
  await waitFor(() => b.rec.msgs.some((m) => m.type === 5 && m.attach?.data?.team_info?.tname === 'renamed'), 'the update');
  await Promise.all([a.client.close(), b.client.close(), b2.client.close()]);
  assert.deepEqual([...a.rec.errors, ...b.rec.errors], []);
});

test('invitations, applications and custom notifications', async () => {
  const [to, tc, td] = [await server.user('olga'), await server.user('cai'), await server.user('dan')];
  const tid = await team('olga', [], { joinmode: 1 });
  const events = { o: [], c: [], d: [] };
  const o = recordingClient(server, 'olga', to, { onTeamEvent: (e) => events.o.push(e) });
  const c = recordingClient(server, 'cai', tc, { onTeamEvent: (e) => events.c.push(e) });
  const notes = [];
  const d = recordingClient(server, 'dan', td, {
    onTeamEvent: (e) => events.d.push(e),
    onNotify: (n) => notes.push(n),
  });
  await Promise.all([o.client.connect(), c.client.connect(), d.client.connect()]);

  await server.ok('team/add', { tid, owner: 'olga', members: ['cai'], magree: 1, msg: 'come' });
  await waitFor(() => events.c.some((e) => e.op === 'teamInvite' && e.tid === tid), 'the invitation');
  await c.client.acceptInvite(tid);
  await waitFor(() => c.rec.msgs.some((m) => m.tid === tid && m.attach?.id === 9), 'cai is in');
  await assert.rejects(c.client.acceptInvite(tid), (e) => e.code === 807);

  assert.deepEqual(await d.client.apply(tid, 'me'), { pending: true });
  await waitFor(() => events.o.some((e) => e.op === 'teamApply' && e.accid === 'dan'), 'the owner hears');
  await assert.rejects(c.client.passApply(tid, 'dan'), (e) => e.code === 802);
  await o.client.passApply(tid, 'dan');
  await waitFor(() => d.rec.msgs.some((m) => m.tid === tid && m.attach?.id === 5), 'dan is in');

  await server.ok('msg/sendAttachMsg', { from: 'olga', msgtype: 1, to: tid, attach: 'typing…' });
  await waitFor(() => notes.some((n) => n.tid === tid && n.attach === 'typing…'), 'the notify');
  await Promise.all([o.client.close(), c.client.close(), d.client.close()]);
  await assert.rejects(o.client.send({ tid, body: { msg: 'x' } }), /not connected/);
});
