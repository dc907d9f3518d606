// qunfa.js: the reference client of qunfa's WebSocket protocol (docs/protocol.md).
//
// One dependency-free ES module for browsers and Node (where a WebSocket implementation,
// such as the `ws` package, is passed in). It logs in, receives the catch-up and then live
// events, drops msgids it has already seen, tracks and acknowledges its cursor, reports reads,
// sends messages (point-to-point and team) and recalls them, answers team invitations and
// applications, and reconnects with exponential backoff and jitter when the connection is lost.

/**
 * Close codes of the protocol.
 * @readonly
 * @enum {number}
 */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  PROTOCOL: 1008,
  LOGIN_REFUSED: 4001,
  TIMEOUT: 4002,
  KICKED: 4003,
  TOO_SLOW: 4008,
});

/** Close codes after which reconnecting would not help. */
const FINAL = new Set([CloseCode.PROTOCOL, CloseCode.LOGIN_REFUSED, CloseCode.KICKED]);

/** WebSocket readyState OPEN (the same in browsers and `ws`). */
const OPEN = 1;

// The shapes of messages, recall notices, receipts, statuses and options are declared, with
// their documentation, in qunfa.d.ts (what editors and TypeScript read).

/**
 * A client session of one account: logs in, catches up, then receives live events;
 * reconnects by itself until it is closed, refused or kicked.
 *
 * @example
 * const c = new QunfaClient({ url: 'http://127.0.0.1:8080', appkey, accid, token,
 *   onMessage: (m) => console.log(m.msgid, m.body) });
 * await c.connect();
 */
export class QunfaClient {
  #opts;
  #seen;
  #acked;
  #pendingReads;
  #ws;
  #running;
  #attempt;
  #timers;
  #chain;
  #started;
  #startedHooks;
  #WebSocket;
  #cursor;
  #state;
  #renewed;
  #requests;
  #nextReq;

  /** @param {import('./qunfa.d.ts').QunfaOptions} options */
  constructor(options) {
    const o = { ...options };
    for (const k of ['url', 'appkey', 'accid', 'token']) {
      if (typeof o[k] !== 'string' || o[k] === '') throw new TypeError(`QunfaClient: ${k} is required`);
    }
    this.#WebSocket = o.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WebSocket !== 'function') {
      throw new TypeError('QunfaClient: no WebSocket implementation: pass one as the WebSocket option');
    }
    /** The WebSocket address used. */
    this.url = wsUrl(o.url);
    /** @readonly */
    this.appkey = o.appkey;
    /** @readonly */
    this.accid = o.accid;
    /** Used at every login; after a `kicked` for a refreshed token, set the new one and `connect()` again. */
    this.token = o.token;
    this.#cursor = toCursor(o.cursor);
    this.#state = 'closed';
    this.#opts = {
      ackIntervalMs: 200,
      minDelayMs: 500,
      maxDelayMs: 30_000,
      heartbeatMs: 30_000,
      dedupeWindow: 10_000,
      requestTimeoutMs: 15_000,
      onError: (e) => console.error('qunfa:', e),
      ...o,
    };
    this.#seen = new Set();
    this.#acked = this.#cursor;
    this.#pendingReads = new Set();
    this.#ws = null;
    this.#running = false;
    this.#attempt = 0;
    this.#renewed = false;
    this.#timers = {};
    // Frames are handled one after another, so async callbacks finish before the cursor moves.
    this.#chain = Promise.resolve();
    // Calls waiting for their answer, by key: the frame to (re)send and how to settle.
    this.#requests = new Map();
    this.#nextReq = 1;
  }

  /** Highest msgid seen and handled (messages and recall notices). */
  get cursor() {
    return this.#cursor;
  }

  /** The connection state, as last reported to `onStatus`. */
  get state() {
    return this.#state;
  }

  /**
   * Starts the session. Resolves once the first catch-up is complete (state `live`); rejects
   * when the login is refused, the session is kicked or `close()` is called before that.
   * Calling it while running returns the same promise.
   * @returns {Promise<void>}
   */
  connect() {
    if (this.#running) return this.#started;
    this.#running = true;
    this.#started = new Promise((resolve, reject) => {
      this.#startedHooks = { resolve, reject };
    });
    // The caller may not wait for it; the status callback tells the same story.
    this.#started.catch(() => {});
    this.#load().then(() => this.#running && this.#open());
    return this.#started;
  }

  /**
   * Reports messages as read: the senders of `markRead` messages get a receipt. Sent now when
   * connected, else after the next login.
   * @param {number|number[]} msgids
   */
  markRead(msgids) {
    for (const id of [msgids].flat()) {
      if (Number.isSafeInteger(id) && id > 0) this.#pendingReads.add(id);
    }
    this.#flushReads();
  }

  /**
   * Sends a message as this account: point-to-point (`to`) or into a team (`tid`). Resolves
   * with the `sent` answer (`{msgid, timetag, antispam, msgidClient}`) once it is stored;
   * rejects with an Error carrying the server's `code` and `desc` (the codes of `msg/sendMsg`;
   * 416 past the gateway's per-account rate). Waits for a connection; a send interrupted by
   * a reconnect is sent again with the same `msgidClient`, which the server stores once.
   * @param {import('./qunfa.d.ts').QunfaSend} m
   * @returns {Promise<{msgid: number, timetag: number, antispam: boolean, msgidClient: string}>}
   */
  send(m) {
    const team = m.tid !== undefined && m.tid !== null;
    const msgidClient = m.msgidClient ?? randomKey();
    const frame = {
      op: 'send',
      ope: team ? 1 : 0,
      to: team ? String(m.tid) : m.to,
      type: m.type ?? 0,
      body: m.body,
      msgidClient,
    };
    if (m.ext !== undefined) frame.ext = m.ext;
    if (m.markRead) frame.markRead = 1;
    return this.#request(`s:${msgidClient}`, frame);
  }

  /**
   * Recalls a message this account sent, inside the server's recall window.
   * @param {number} msgid
   * @returns {Promise<void>}
   */
  recall(msgid) {
    return this.#request(`r:${msgid}`, { op: 'recallMsg', msgid }).then(() => undefined);
  }

  /** Accepts a pending team invitation. @param {number} tid @returns {Promise<void>} */
  acceptInvite(tid) {
    return this.#team({ op: 'acceptInvite', tid }).then(() => undefined);
  }

  /** Turns a team invitation down. @param {number} tid @param {string} [msg] */
  rejectInvite(tid, msg = '') {
    return this.#team({ op: 'rejectInvite', tid, msg }).then(() => undefined);
  }

  /**
   * Applies to join a team: resolves `{pending}` (true: the owner or a manager decides).
   * @param {number} tid @param {string} [msg] @returns {Promise<{pending: boolean}>}
   */
  apply(tid, msg = '') {
    return this.#team({ op: 'apply', tid, msg }).then((r) => r.data ?? { pending: false });
  }

  /** As a team's owner or manager, admits an applicant. @param {number} tid @param {string} accid */
  passApply(tid, accid) {
    return this.#team({ op: 'passApply', tid, accid }).then(() => undefined);
  }

  /** As a team's owner or manager, turns an applicant down. */
  rejectApply(tid, accid, msg = '') {
    return this.#team({ op: 'rejectApply', tid, accid, msg }).then(() => undefined);
  }

  /**
   * Acknowledges the cursor now (normally batched every `ackIntervalMs`) and saves it through
   * `saveCursor`.
   * @returns {Promise<void>} Settles when `saveCursor` has.
   */
  async ack() {
    clearTimeout(this.#timers.ack);
    this.#timers.ack = null;
    if (this.#cursor <= this.#acked) return;
    if (!this.#isLoggedIn()) return this.#save(this.#cursor);
    const cursor = this.#cursor;
    this.#send({ op: 'ack', cursor });
    this.#acked = cursor;
    return this.#save(cursor);
  }

  /**
   * Ends the session: acknowledges and saves the cursor, closes the socket, stops reconnecting.
   * @returns {Promise<void>}
   */
  async close() {
    if (!this.#running && !this.#ws) return;
    if (this.#isLoggedIn() && this.#cursor > this.#acked) {
      this.#send({ op: 'ack', cursor: this.#cursor });
      this.#acked = this.#cursor;
    }
    this.#stop('closed', { closeCode: CloseCode.NORMAL });
    // Callbacks already under way finish, and their messages count in the saved cursor.
    await this.#chain;
    await this.#save(this.#cursor);
  }

  // ---- internals ----

  #team(frame) {
    const req = `q${this.#nextReq++}`;
    return this.#request(req, { ...frame, req });
  }

  /** Sends `frame` now or after the next login, and waits for the answer keyed `key`. */
  #request(key, frame) {
    if (!this.#running) return Promise.reject(new Error('qunfa: not connected: call connect() first'));
    const old = this.#requests.get(key);
    if (old) return old.promise;
    let settle;
    const promise = new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
    const timer = setTimeout(() => {
      this.#requests.delete(key);
      settle.reject(Object.assign(new Error('qunfa: no answer in time'), { code: 0 }));
    }, this.#opts.requestTimeoutMs);
    this.#requests.set(key, { frame, promise, timer, ...settle });
    if (this.#isLoggedIn()) this.#send(frame);
    return promise;
  }

  /** Settles the request keyed `key` with an answer frame. */
  #answered(key, f) {
    const r = this.#requests.get(key);
    if (!r) return;
    this.#requests.delete(key);
    clearTimeout(r.timer);
    const { op, ...rest } = f;
    if (f.code === 200) {
      r.resolve(rest);
    } else {
      r.reject(Object.assign(new Error(`qunfa: ${f.code} ${f.desc ?? ''}`.trim()), { code: f.code, desc: f.desc }));
    }
  }

  /** After a login: what waits for an answer is sent again (sends are idempotent by key). */
  #resendRequests() {
    for (const r of this.#requests.values()) this.#send(r.frame);
  }

  #failRequests(err) {
    for (const r of this.#requests.values()) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.#requests.clear();
  }

  #isLoggedIn() {
    return this.#ws?.readyState === OPEN && (this.#state === 'syncing' || this.#state === 'live');
  }

  async #load() {
    if (!this.#opts.loadCursor) return;
    try {
      this.#cursor = Math.max(this.#cursor, toCursor(await this.#opts.loadCursor()));
      this.#acked = Math.max(this.#acked, this.#cursor);
    } catch (e) {
      this.#opts.onError(e);
    }
  }

  async #save(cursor) {
    if (!this.#opts.saveCursor) return;
    try {
      await this.#opts.saveCursor(cursor);
    } catch (e) {
      this.#opts.onError(e);
    }
  }

  #status(state, extra = {}) {
    this.#state = state;
    this.#call('onStatus', { state, cursor: this.#cursor, ...extra });
  }

  #call(name, ...args) {
    const f = this.#opts[name];
    if (!f) return undefined;
    try {
      return f(...args);
    } catch (e) {
      this.#opts.onError(e);
      return undefined;
    }
  }

  #open() {
    this.#status('connecting');
    let ws;
    try {
      ws = new this.#WebSocket(this.url);
    } catch (e) {
      this.#opts.onError(e);
      this.#lost({ closeCode: CloseCode.ABNORMAL, reason: String(e?.message ?? e) });
      return;
    }
    this.#ws = ws;
    // What this connection told us; frames of an abandoned connection are ignored.
    const conn = { ws, login: null, kick: null, synced: false };
    this.#heard();
    ws.onopen = () => {
      this.#heard();
      ws.send(JSON.stringify({
        op: 'login', appkey: this.appkey, accid: this.accid, token: this.token, cursor: this.#cursor,
      }));
    };
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      this.#heard();
      let frame;
      try {
        frame = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
      } catch (e) {
        this.#opts.onError(new Error(`qunfa: a frame that is not JSON: ${e}`));
        return;
      }
      this.#frame(frame, conn);
    };
    // Errors are always followed by a close event; the close decides what happens next.
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ended(ev.code, ev.reason, conn);
    };
  }

  #frame(f, conn) {
    switch (f.op) {
      case 'login':
        conn.login = f;
        if (f.code === 200) {
          this.#attempt = 0;
          this.#renewed = false;
          if (f.reset === true) {
            // The server holds nothing up to our cursor (its data were restored or recreated):
            // start again from its latest msgid, forgetting what we had seen.
            this.#cursor = toCursor(f.cursor);
            this.#acked = this.#cursor;
            this.#seen = new Set();
            this.#call('onReset', { cursor: this.#cursor });
            this.#save(this.#cursor);
          }
          this.#status('syncing');
          this.#flushReads();
          this.#resendRequests();
          // The login cursor is not an ack: acknowledge what earlier connections could not.
          if (this.#cursor > this.#acked) this.#scheduleAck();
        }
        break;
      case 'msg': {
        const info = { live: conn.synced };
        this.#enqueue(f.msg?.msgid, () => this.#opts.onMessage?.(f.msg, info));
        break;
      }
      case 'recall': {
        const { op, ...recall } = f;
        const info = { live: conn.synced };
        this.#enqueue(f.msgid, () => this.#opts.onRecall?.(recall, info));
        break;
      }
      case 'synced':
        conn.synced = true;
        // After the catch-up's callbacks: `live` means they have all run.
        this.#chain = this.#chain.then(() => {
          this.#advance(toCursor(f.cursor));
          if (this.#ws !== conn.ws || this.#state !== 'syncing') return;
          this.#status('live');
          this.#startedHooks?.resolve();
          this.#startedHooks = null;
        });
        break;
      case 'receipt': {
        const { op, ...receipt } = f;
        this.#call('onReceipt', receipt);
        break;
      }
      case 'notify': {
        const { op, ...notify } = f;
        const info = { live: conn.synced };
        this.#enqueue(f.msgid, () => this.#opts.onNotify?.(notify, info));
        break;
      }
      case 'sent':
        this.#answered(`s:${f.msgidClient}`, f);
        break;
      case 'recallMsgResult':
        this.#answered(`r:${f.msgid}`, f);
        break;
      case 'result':
        this.#answered(f.req, f);
        break;
      case 'teamInvite':
      case 'teamApply':
      case 'teamInviteRejected':
      case 'teamApplyRejected':
        this.#call('onTeamEvent', f);
        break;
      case 'kick':
        conn.kick = f.reason ?? 'kicked';
        break;
      case 'pong':
        break;
      default:
        // Unknown ops from a newer server are ignored, not fatal.
        break;
    }
  }

  /** Runs `deliver` once per msgid, in frame order, then moves the cursor. */
  #enqueue(msgid, deliver) {
    if (!Number.isSafeInteger(msgid)) return;
    if (this.#seen.has(msgid)) return;
    this.#remember(msgid);
    this.#chain = this.#chain.then(async () => {
      try {
        await deliver();
      } catch (e) {
        this.#opts.onError(e);
      }
      this.#advance(msgid);
    });
  }

  #remember(msgid) {
    this.#seen.add(msgid);
    if (this.#seen.size > this.#opts.dedupeWindow) {
      // Sets iterate in insertion order: drop the oldest.
      this.#seen.delete(this.#seen.values().next().value);
    }
  }

  #advance(cursor) {
    if (cursor <= this.#cursor) return;
    this.#cursor = cursor;
    this.#scheduleAck();
  }

  #scheduleAck() {
    if (this.#running && !this.#timers.ack) {
      this.#timers.ack = setTimeout(() => {
        this.#timers.ack = null;
        this.ack();
      }, this.#opts.ackIntervalMs);
    }
  }

  #flushReads() {
    if (this.#pendingReads.size === 0 || !this.#isLoggedIn()) return;
    const msgids = [...this.#pendingReads];
    this.#pendingReads.clear();
    // The server takes up to 1,000 per frame.
    for (let i = 0; i < msgids.length; i += 1000) {
      this.#send({ op: 'read', msgids: msgids.slice(i, i + 1000) });
    }
  }

  #send(frame) {
    if (this.#ws?.readyState !== OPEN) return false;
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  /** Something arrived: the connection is alive. Re-arms the heartbeat. */
  #heard() {
    const every = this.#opts.heartbeatMs;
    if (!every) return;
    clearTimeout(this.#timers.heartbeat);
    this.#timers.heartbeat = setTimeout(() => {
      // Not open yet: the second interval bounds the connection attempt too.
      this.#send({ op: 'ping' });
      this.#timers.heartbeat = setTimeout(() => {
        this.#drop(CloseCode.ABNORMAL, 'heartbeat timeout');
      }, every);
    }, every);
  }

  /** Abandons the current socket without waiting for a close handshake, then reconnects. */
  #drop(code, reason) {
    const ws = this.#ws;
    if (!ws) return;
    this.#detach(ws, 4000, reason);
    this.#lost({ closeCode: code, reason });
  }

  #detach(ws, code, reason) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    if (this.#ws === ws) this.#ws = null;
    clearTimeout(this.#timers.heartbeat);
  }

  #ended(code, reason, conn) {
    this.#detach(this.#ws, CloseCode.NORMAL, '');
    if (!this.#running) return;
    const login = conn.login ?? {};
    const kick = conn.kick ?? reason;
    const info = code === CloseCode.LOGIN_REFUSED && login.code === 302
      ? { reason: 'refused', closeCode: code, code: login.code, desc: login.desc }
      : code === CloseCode.KICKED && kick === 'token refreshed'
        ? { reason: 'kicked', closeCode: code, desc: kick }
        : null;
    if (info && this.#opts.refreshToken && !this.#renewed) {
      this.#renewToken(info).then((renewed) => {
        if (!renewed && this.#running) this.#final(code, reason, conn);
      });
      return;
    }
    this.#final(code, reason, conn);
  }

  /** Asks `refreshToken` for a new token; with one, logs in again at once. */
  async #renewToken(info) {
    this.#attempt += 1;
    this.#status('reconnecting', { closeCode: info.closeCode, reason: info.desc, attempt: this.#attempt, delayMs: 0 });
    let token;
    try {
      token = await this.#opts.refreshToken({ ...info, accid: this.accid });
    } catch (e) {
      this.#opts.onError(e);
      return false;
    }
    if (typeof token !== 'string' || token === '' || !this.#running) return false;
    this.token = token;
    this.#renewed = true;
    this.#open();
    return true;
  }

  #final(code, reason, conn) {
    if (code === CloseCode.LOGIN_REFUSED) {
      const l = conn.login ?? {};
      this.#stop('refused', { closeCode: code, code: l.code, desc: l.desc ?? reason });
    } else if (code === CloseCode.KICKED) {
      this.#stop('kicked', { closeCode: code, reason: conn.kick ?? reason });
    } else if (FINAL.has(code)) {
      this.#stop('failed', { closeCode: code, reason });
    } else {
      this.#lost({ closeCode: code, reason });
    }
  }

  /** Schedules the next attempt: exponential backoff with jitter. */
  #lost(extra) {
    if (!this.#running) return;
    const { minDelayMs, maxDelayMs } = this.#opts;
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(this.#attempt, 20));
    // Half fixed, half random: a server restart does not bring every client back at once.
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.#attempt += 1;
    this.#status('reconnecting', { ...extra, attempt: this.#attempt, delayMs });
    clearTimeout(this.#timers.retry);
    this.#timers.retry = setTimeout(() => this.#running && this.#open(), delayMs);
  }

  #stop(state, extra) {
    this.#running = false;
    for (const t of Object.values(this.#timers)) clearTimeout(t);
    this.#timers = {};
    if (this.#ws) this.#detach(this.#ws, CloseCode.NORMAL, 'bye');
    this.#status(state, extra);
    this.#failRequests(Object.assign(new Error(`qunfa: ${state}`), { code: 0, state }));
    if (this.#startedHooks) {
      const err = new Error(`qunfa: ${state}${extra.desc ? `: ${extra.desc}` : extra.reason ? `: ${extra.reason}` : ''}`);
      Object.assign(err, { state, ...extra });
      this.#startedHooks.reject(err);
      this.#startedHooks = null;
    }
  }
}

/** The WebSocket address for a server URL. */
export function wsUrl(url) {
  const u = new URL(url);
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`;
  } else if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
  } else {
    throw new TypeError(`QunfaClient: unsupported URL ${url}`);
  }
  return u.toString();
}

/** A fresh idempotency key for a send. */
function randomKey() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function toCursor(v) {
  const n = Number(v ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
