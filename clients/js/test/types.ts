// Compiled (not run) by `tsc -p test/tsconfig.json`: the declarations describe every public
// method, option and event, through the package's own `exports` (a self-reference, as an app
// that installed it imports it), and they refuse misuse.

import { CloseCode, QunfaClient, wsUrl } from 'qunfa-client';
import type { QunfaMessage, QunfaRecall, QunfaReceipt, QunfaStatus, QunfaTokenRefresh, QunfaConnectError } from 'qunfa-client';
import { ApiCode, QunfaApi, QunfaApiError, checkSum, randomNonce, sha1Hex } from 'qunfa-client/api';
import type { ApiAnswer } from 'qunfa-client/api';
import { sha1Hex as sha1Direct } from 'qunfa-client/sha1';

async function client(fetchToken: () => Promise<string>): Promise<void> {
  const seen: number[] = [];
  const c = new QunfaClient({
    url: 'http://127.0.0.1:8080',
    appkey: 'k',
    accid: 'zhangsan',
    token: 't',
    cursor: 0,
    loadCursor: () => Number(localStorage.getItem('c') ?? 0),
    saveCursor: async (cursor: number) => {
      localStorage.setItem('c', String(cursor));
    },
    onMessage: (m: QunfaMessage, { live }) => {
      seen.push(m.msgid);
      const text: string = typeof m.body === 'string' ? m.body : String(m.body.msg ?? '');
      if (m.kind === 'p2p') console.log(m.to, text, live);
      if (m.markRead) c.markRead(m.msgid);
    },
    onRecall: (r: QunfaRecall) => console.log(r.recallMsgid, r.msgid, r.from, r.time),
    onReceipt: (r: QunfaReceipt) => console.log(r.msgid, r.reader, r.time),
    onStatus: (s: QunfaStatus) => {
      if (s.state === 'reconnecting') console.log(s.attempt, s.delayMs, s.closeCode);
      if (s.state === 'refused') console.log(s.code, s.desc);
    },
    onError: (e: unknown) => console.error(e),
    refreshToken: async (info: QunfaTokenRefresh) => (info.reason === 'kicked' || info.code === 302 ? fetchToken() : null),
    ackIntervalMs: 200,
    minDelayMs: 500,
    maxDelayMs: 30_000,
    heartbeatMs: 0,
    dedupeWindow: 100,
  });
  try {
    await c.connect();
  } catch (e) {
    const err = e as QunfaConnectError;
    if (err.state === 'kicked') c.token = await fetchToken();
  }
  c.markRead([1, 2]);
  await c.ack();
  const cursor: number = c.cursor;
  const state: QunfaStatus['state'] = c.state;
  const url: string = c.url + wsUrl('http://h') + c.appkey + c.accid;
  const code: 4003 = CloseCode.KICKED;
  console.log(cursor, state, url, code);
  await c.close();

  // @ts-expect-error accid is required
  new QunfaClient({ url: 'x', appkey: 'k', token: 't' });
  // @ts-expect-error the cursor is read-only
  c.cursor = 3;
  // @ts-expect-error markRead takes msgids
  c.markRead('1');
  // @ts-expect-error no such state
  const bad: QunfaStatus['state'] = 'open';
  void bad;
}

async function api(): Promise<void> {
  const a = new QunfaApi({ url: 'http://127.0.0.1:8080', appkey: 'k', secret: 's', adjustClock: false });
  const sent = await a.ok('msg/sendMsgToAll', { areaid: '370100', type: 0, body: { msg: '你好' }, markRead: 1, ext: undefined });
  const msgid: number = sent.data.msgid;
  const answer: ApiAnswer = await a.call('user/getUinfos', { accids: ['zhangsan'] }, { json: true, signal: AbortSignal.timeout(5000) });
  if (answer.code !== ApiCode.OK) console.log(answer.desc);
  try {
    await a.ok('user/create', { accid: 'x' });
  } catch (e) {
    if (e instanceof QunfaApiError) console.log(e.code, e.desc, e.endpoint, e.status, e.answer.code);
  }
  const hex: string = checkSum('secret', randomNonce(), 1443592222) + sha1Hex('x') + sha1Direct(new Uint8Array([1]));
  console.log(msgid, hex, a.url, a.appkey, a.clockOffsetMs, a.endpointUrl('user/create'));

  // @ts-expect-error the secret is required
  new QunfaApi({ url: 'x', appkey: 'k' });
  // @ts-expect-error ApiCode is read-only
  ApiCode.OK = 201;
}

void client;
void api;
