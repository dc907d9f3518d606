// api.js: a client of qunfa's signed HTTP API (docs/api.md), for app backends in Node 20+ and
// for pages such as qunfa's web console. Every call is signed with AppKey, Nonce, CurTime and
// `CheckSum = sha1(AppSecret + Nonce + CurTime)`; SHA-1 is computed in JavaScript (sha1.js),
// so it works where WebCrypto does not (a page served over plain HTTP on a LAN address).
//
// The AppSecret signs every call: keep it on a server, or, in an operator's console, in the
// tab's memory or sessionStorage. Never ship it in an end user's page.

import { sha1Hex } from './sha1.js';

export { sha1Hex };

/** Answer codes of the API (docs/api.md § Codes). */
export const ApiCode = Object.freeze({
  OK: 200,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_PARAM: 414,
  RATE_LIMITED: 416,
  IN_USE: 417,
  REPEATED: 431,
  INTERNAL: 500,
  RECALL_WINDOW: 508,
});

/** A refused call (`ok()`), or an answer that is not qunfa's JSON (`code` 0, with `status`). */
export class QunfaApiError extends Error {
  /**
   * @param {string} endpoint
   * @param {{code: number, desc?: string}} answer
   * @param {number} [status] The HTTP status, when the answer was not qunfa's JSON.
   */
  constructor(endpoint, answer, status) {
    super(`${endpoint}: ${answer.code}${answer.desc ? ` ${answer.desc}` : ''}`);
    this.name = 'QunfaApiError';
    this.endpoint = endpoint;
    this.code = answer.code;
    this.desc = answer.desc ?? '';
    this.answer = answer;
    this.status = status ?? 200;
  }
}

/** `sha1(appSecret + nonce + curTime)` as lowercase hex: the CheckSum header. */
export function checkSum(appSecret, nonce, curTime) {
  return sha1Hex(`${appSecret}${nonce}${curTime}`);
}

/** 32 random hex digits (`crypto.getRandomValues` exists in every context, secure or not). */
export function randomNonce() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A parameter value as the API reads it: objects and arrays as JSON text. */
function formValue(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** How far the server's clock may be from ours before `call` corrects for it (ms). */
const SKEW_MS = 60_000;

/**
 * A signing client for one app.
 *
 * @example
 * const api = new QunfaApi({ url: 'http://127.0.0.1:8080', appkey, secret });
 * const { data } = await api.ok('msg/sendMsgToAll', { areaid: '370100', type: 0, body: { msg: '你好' } });
 */
export class QunfaApi {
  #secret;
  #fetch;
  #offsetMs;

  /**
   * @param {object} options
   * @param {string} options.url The server (`http://host:8080`, or the path qunfa is mounted
   *   at behind a proxy). Relative URLs are resolved against the page's address.
   * @param {string} options.appkey
   * @param {string} options.secret The AppSecret.
   * @param {typeof fetch} [options.fetch] Default `globalThis.fetch`.
   * @param {boolean} [options.adjustClock=true] When the server refuses CurTime as expired,
   *   retry once on the server's clock (its `Date` header): a laptop with a wrong clock still works.
   */
  constructor({ url, appkey, secret, fetch, adjustClock = true }) {
    if (typeof url !== 'string' || url === '') throw new TypeError('QunfaApi: url is required');
    if (typeof appkey !== 'string' || appkey === '') throw new TypeError('QunfaApi: appkey is required');
    if (typeof secret !== 'string' || secret === '') throw new TypeError('QunfaApi: secret is required');
    const base = new URL(url, globalThis.location?.href);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    /** The server's base address, ending with `/`. */
    this.url = base.toString();
    /** @readonly */
    this.appkey = appkey;
    this.#secret = secret;
    this.#fetch = fetch ?? globalThis.fetch.bind(globalThis);
    this.adjustClock = adjustClock;
    this.#offsetMs = 0;
  }

  /** Milliseconds added to this machine's clock for CurTime (learnt from the server). */
  get clockOffsetMs() {
    return this.#offsetMs;
  }

  /** The address of an endpoint (`msg/sendMsgToAll`). */
  endpointUrl(endpoint) {
    return new URL(`nimserver/${endpoint}.action`, this.url).toString();
  }

  /**
   * Signs and sends one call; answers the server's JSON whatever its code.
   * @param {string} endpoint `group/name`, e.g. `user/create`.
   * @param {Record<string, unknown>} [params] Form parameters; objects and arrays are sent as
   *   JSON text, `undefined` and `null` are left out.
   * @param {{json?: boolean, signal?: AbortSignal}} [options] `json`: send a JSON body instead.
   * @returns {Promise<{code: number, desc?: string, [key: string]: any}>}
   */
  async call(endpoint, params = {}, options = {}) {
    const first = await this.#send(endpoint, params, options);
    if (
      this.adjustClock
      && first.answer.code === ApiCode.BAD_PARAM
      && first.answer.desc === 'CurTime is expired'
      && first.serverMs !== null
    ) {
      const offset = first.serverMs - Date.now();
      if (Math.abs(offset - this.#offsetMs) > SKEW_MS) {
        this.#offsetMs = offset;
        return (await this.#send(endpoint, params, options)).answer;
      }
    }
    return first.answer;
  }

  /**
   * {@link QunfaApi.call}, throwing a {@link QunfaApiError} unless the answer's code is 200.
   * @returns {Promise<{code: 200, [key: string]: any}>}
   */
  async ok(endpoint, params = {}, options = {}) {
    const answer = await this.call(endpoint, params, options);
    if (answer.code !== ApiCode.OK) throw new QunfaApiError(endpoint, answer);
    return answer;
  }

  async #send(endpoint, params, { json = false, signal } = {}) {
    const nonce = randomNonce();
    const curTime = String(Math.floor((Date.now() + this.#offsetMs) / 1000));
    const headers = {
      AppKey: this.appkey,
      Nonce: nonce,
      CurTime: curTime,
      CheckSum: checkSum(this.#secret, nonce, curTime),
    };
    let body;
    if (json) {
      headers['Content-Type'] = 'application/json; charset=utf-8';
      body = JSON.stringify(params);
    } else {
      headers['Content-Type'] = 'application/x-www-form-urlencoded;charset=utf-8';
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null) form.set(k, formValue(v));
      }
      body = form.toString();
    }
    const res = await this.#fetch(this.endpointUrl(endpoint), { method: 'POST', headers, body, signal });
    const text = await res.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = null;
    }
    if (!answer || typeof answer.code !== 'number') {
      throw new QunfaApiError(endpoint, { code: 0, desc: `HTTP ${res.status}: not a qunfa answer` }, res.status);
    }
    const date = Date.parse(res.headers.get('date') ?? '');
    return { answer, serverMs: Number.isNaN(date) ? null : date };
  }
}
