// The package's signed API client (api.js) and its SHA-1 (sha1.js): the reference vector, a
// comparison with Node's own SHA-1, calls against a real server (refusals, JSON bodies, a wrong
// clock corrected), and the declarations (.d.ts) naming exactly what the modules export.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';

import * as apiModule from '../api.js';
import * as clientModule from '../qunfa.js';
import { QunfaApi, QunfaApiError, checkSum, randomNonce } from '../api.js';
import { sha1Hex } from '../sha1.js';
import { ROOT, Server } from './support.js';

describe('sha1Hex', () => {
  test('gives the reference CheckSum of shared/reference/nim-server-api.md § 1.1', () => {
    assert.equal(checkSum('1234567890ab', '4tgggergigwow323t23t', '1443592222'), 'f2c2b4c8fe9020844c6b00cbd084718d8bf25890');
    assert.equal(checkSum('1234567890ab', '4tgggergigwow323t23t', 1443592222), 'f2c2b4c8fe9020844c6b00cbd084718d8bf25890');
  });

  test('agrees with the standard vectors and with Node around every padding boundary', () => {
    assert.equal(sha1Hex(''), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
    assert.equal(sha1Hex('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    assert.equal(sha1Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
    const node = (b) => createHash('sha1').update(b).digest('hex');
    for (let n = 0; n <= 200; n += 1) {
      const bytes = new Uint8Array(randomBytes(n));
      assert.equal(sha1Hex(bytes), node(bytes), `${n} bytes`);
    }
    const text = '济南的朋友们好 👋 qunfa';
    assert.equal(sha1Hex(text), node(Buffer.from(text, 'utf8')), 'strings are hashed as UTF-8');
    const big = new Uint8Array(randomBytes(100_000));
    assert.equal(sha1Hex(big), node(big));
    assert.throws(() => sha1Hex(42), TypeError);
  });

  test('nonces are 32 fresh hex digits', () => {
    const a = randomNonce();
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.notEqual(a, randomNonce());
  });
});

describe('QunfaApi against a real server', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await server?.destroy();
  });

  test('signs form and JSON calls; ok() throws the refusal', async () => {
    const api = new QunfaApi({ url: server.base, appkey: server.appkey, secret: server.secret });
    assert.equal(api.url, `${server.base}/`);
    assert.equal(api.endpointUrl('user/create'), `${server.base}/nimserver/user/create.action`);
    const created = await api.ok('user/create', { accid: 'api1', name: '张三', token: 't1', gender: 1, skipped: undefined });
    assert.deepEqual(created, { code: 200, info: { accid: 'api1', name: '张三', token: 't1' } });
    const infos = await api.call('user/getUinfos', { accids: ['api1'] }, { json: true });
    assert.deepEqual(infos, { code: 200, uinfos: [{ accid: 'api1', name: '张三', gender: 1 }] });
    const again = await api.call('user/create', { accid: 'api1' });
    assert.deepEqual(again, { code: 414, desc: 'already register' });
    await assert.rejects(api.ok('user/create', { accid: 'api1' }), (e) => e instanceof QunfaApiError
      && e.code === 414 && e.desc === 'already register' && e.endpoint === 'user/create' && e.status === 200);
  });

  test('refusals of the credentials come back as answers', async () => {
    const wrong = new QunfaApi({ url: server.base, appkey: server.appkey, secret: 'not-the-secret' });
    assert.deepEqual(await wrong.call('dic/listAreas'), { code: 414, desc: 'checksum' });
    const unknown = new QunfaApi({ url: server.base, appkey: 'no-such-app', secret: 's' });
    assert.deepEqual(await unknown.call('dic/listAreas'), { code: 414, desc: 'appkey' });
  });

  test('a machine whose clock is an hour off is corrected from the Date header, once', async () => {
    const api = new QunfaApi({ url: server.base, appkey: server.appkey, secret: server.secret });
    const realNow = Date.now.bind(Date);
    const clock = mock.method(Date, 'now', () => realNow() - 3600_000);
    try {
      assert.deepEqual(await api.call('antispam/getWords'), { code: 200, data: { words: [] } });
      assert.ok(Math.abs(api.clockOffsetMs - 3600_000) < 5000, `offset ${api.clockOffsetMs}`);
      const strict = new QunfaApi({ url: server.base, appkey: server.appkey, secret: server.secret, adjustClock: false });
      assert.deepEqual(await strict.call('antispam/getWords'), { code: 414, desc: 'CurTime is expired' });
    } finally {
      clock.mock.restore();
    }
  });

  test('an answer that is not qunfa JSON is an error with the HTTP status', async () => {
    const api = new QunfaApi({
      url: 'http://example.invalid/',
      appkey: 'k',
      secret: 's',
      fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }),
    });
    await assert.rejects(api.call('dic/listAreas'), (e) => e instanceof QunfaApiError && e.code === 0 && e.status === 502);
  });

  test('options are checked', () => {
    assert.throws(() => new QunfaApi({ url: '', appkey: 'k', secret: 's' }), TypeError);
    assert.throws(() => new QunfaApi({ url: 'http://h', appkey: 'k' }), TypeError);
  });
});

/** `export declare const|class|function NAME` and `export { A, B } from` names of a .d.ts. */
function declared(text) {
  const names = new Set();
  for (const m of text.matchAll(/^export declare (?:const|class|function) (\w+)/gm)) names.add(m[1]);
  for (const m of text.matchAll(/^export \{([^}]+)\} from/gm)) {
    for (const n of m[1].split(',')) names.add(n.trim().split(/\s+as\s+/).at(-1));
  }
  return [...names].sort();
}

/** The method and accessor names declared in a class body of a .d.ts. */
function members(text, cls) {
  const body = text.slice(text.search(new RegExp(`export declare class ${cls}\\b`)));
  const block = body.slice(body.indexOf('{') + 1, body.indexOf('\n}'));
  return [...block.matchAll(/^ {2}(?:readonly )?(\w+)[(<:]/gm)].map((m) => m[1]).filter((n) => n !== 'constructor').sort();
}

test('the declarations name exactly the runtime exports and public members', async () => {
  const dts = async (f) => readFile(join(ROOT, f), 'utf8');
  assert.deepEqual(declared(await dts('qunfa.d.ts')), Object.keys(clientModule).sort());
  assert.deepEqual(declared(await dts('api.d.ts')), Object.keys(apiModule).sort());
  const instance = new clientModule.QunfaClient({ url: 'http://h', appkey: 'k', accid: 'a', token: 't', WebSocket: class {} });
  const runtime = (obj, proto) => [...new Set([...Object.keys(obj), ...Object.getOwnPropertyNames(proto)])]
    .filter((n) => n !== 'constructor').sort();
  assert.deepEqual(members(await dts('qunfa.d.ts'), 'QunfaClient'), runtime(instance, clientModule.QunfaClient.prototype));
  const api = new QunfaApi({ url: 'http://h', appkey: 'k', secret: 's' });
  assert.deepEqual(members(await dts('api.d.ts'), 'QunfaApi'), runtime(api, QunfaApi.prototype));
});
