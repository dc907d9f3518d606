// Test support: a real `qunfa serve` in a temp dir, a signing API client, and small helpers.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { QunfaClient } from '../qunfa.js';

const here = dirname(fileURLToPath(import.meta.url));
/** clients/js */
export const ROOT = resolve(here, '..');
export const BIN = resolve(ROOT, process.env.QUNFA_BIN ?? '../../target/debug/qunfa');

const STARTUP_MS = 20_000;
const STOP_MS = 15_000;

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '');

/** Every server still running, killed if the test process exits early. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A real qunfa server. `start()` runs `qunfa serve --listen 127.0.0.1:0` in a fresh directory;
 * `restart()` stops it and starts it again on the same data directory and port.
 */
export class Server {
  /** `env`: extra environment of the server (`QUNFA_*` settings). */
  static async start({ env = {} } = {}) {
    if (!existsSync(BIN)) {
      throw new Error(`no qunfa binary at ${BIN}: run \`cargo build -p qunfa\` or set QUNFA_BIN`);
    }
    const s = new Server(await mkdtemp(join(tmpdir(), 'qunfa-js-')));
    s.env = env;
    await s.spawn('127.0.0.1:0');
    if (!s.appkey) throw new Error('the first start did not print an AppKey and AppSecret');
    return s;
  }

  constructor(dir) {
    this.dir = dir;
    this.addr = '';
    this.appkey = '';
    this.secret = '';
    this.log = [];
    this.child = null;
    this.env = {};
  }

  get base() {
    return `http://${this.addr}`;
  }

  async spawn(listen) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QUNFA_')));
    const child = spawn(BIN, ['serve', '--listen', listen], {
      cwd: this.dir,
      env: { ...env, ...this.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.on('exit', () => running.delete(child));
    // The credentials come on stdout, the log (with the listen line) on stderr.
    const out = createInterface({ input: child.stdout });
    const err = createInterface({ input: child.stderr });
    await new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`qunfa serve did not listen within ${STARTUP_MS} ms:\n${this.log.join('\n')}`)), STARTUP_MS);
      const onExit = (code) => {
        clearTimeout(timer);
        fail(new Error(`qunfa serve exited (${code}) before listening:\n${this.log.join('\n')}`));
      };
      child.once('exit', onExit);
      // Keeps reading for the server's whole life, so it never blocks on a full pipe.
      let [listening, later, settled] = ['', false, false];
      const onLine = (raw) => {
        const line = stripAnsi(raw);
        this.log.push(line);
        const t = line.trim();
        if (t.startsWith('AppKey:')) this.appkey = t.slice(7).trim();
        else if (t.startsWith('AppSecret:')) this.secret = t.slice(10).trim();
        else if (line.includes('`qunfa app list` shows')) later = true;
        else if (line.includes('qunfa listening')) {
          const m = line.match(/listen=(\S+)/);
          if (m) listening = m[1];
        }
        // The credentials (stdout) and the listen line (stderr) come through two pipes: on a
        // first start, wait for both.
        if (listening && !settled && (later || this.secret)) {
          settled = true;
          this.addr = listening;
          clearTimeout(timer);
          child.off('exit', onExit);
          done();
        }
      };
      out.on('line', onLine);
      err.on('line', onLine);
    });
  }

  /** SIGTERM, then waits for the exit (SIGKILL after STOP_MS). */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
    await exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    await this.spawn(this.addr);
  }

  async destroy() {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * One signed API call (`CheckSum = sha1(AppSecret + Nonce + CurTime)`), form-encoded;
   * object and array values are sent as JSON strings. Answers the JSON reply.
   */
  async api(endpoint, params = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      body.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    return this.post(endpoint, 'application/x-www-form-urlencoded;charset=utf-8', body);
  }

  /** The same with a JSON body, as the original sendMsgToAll request is sent. */
  async apiJson(endpoint, object) {
    return this.post(endpoint, 'application/json; charset=utf-8', JSON.stringify(object));
  }

  /** One signed call with this server's first app, or the app `{appkey, secret}` given. */
  async post(endpoint, contentType, body, { appkey, secret } = this) {
    const nonce = randomBytes(16).toString('hex');
    const curTime = String(Math.floor(Date.now() / 1000));
    const checkSum = createHash('sha1').update(secret + nonce + curTime).digest('hex');
    const res = await fetch(`${this.base}/nimserver/${endpoint}.action`, {
      method: 'POST',
      headers: { AppKey: appkey, Nonce: nonce, CurTime: curTime, CheckSum: checkSum, 'Content-Type': contentType },
      body,
    });
    return res.json();
  }

  /** `api`, failing unless the answer's code is 200. */
  async ok(endpoint, params) {
    const r = await this.api(endpoint, params);
    if (r.code !== 200) throw new Error(`${endpoint} ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
    return r;
  }

  /** Creates an account; answers its token. */
  async user(accid) {
    const r = await this.ok('user/create', { accid });
    return r.info.token;
  }

  /** A targeted text message to explicit recipients; answers its msgid. */
  async send(to, text, extra = {}) {
    const r = await this.ok('msg/sendMsgToAll', { toAccids: to, type: 0, body: { msg: text }, ...extra });
    return r.data.msgid;
  }
}

/** Polls `check` until it returns a truthy value; fails after `ms`. */
export async function waitFor(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A QunfaClient on `ws` with quick timers, recording everything it reports:
 * `rec.msgs`, `rec.recalls`, `rec.receipts`, `rec.statuses`, `rec.saved`.
 */
export function recordingClient(server, accid, token, opts = {}) {
  const rec = { msgs: [], recalls: [], receipts: [], statuses: [], saved: [], errors: [] };
  const client = new QunfaClient({
    url: server.base,
    appkey: server.appkey,
    accid,
    token,
    WebSocket,
    ackIntervalMs: 30,
    minDelayMs: 50,
    maxDelayMs: 400,
    onMessage: (m, info) => rec.msgs.push({ ...m, live: info.live }),
    onRecall: (r) => rec.recalls.push(r),
    onReceipt: (r) => rec.receipts.push(r),
    onStatus: (s) => rec.statuses.push(s),
    onError: (e) => rec.errors.push(e),
    saveCursor: (c) => rec.saved.push(c),
    ...opts,
  });
  rec.ids = () => rec.msgs.map((m) => m.msgid);
  rec.states = () => rec.statuses.map((s) => s.state);
  return { client, rec };
}
