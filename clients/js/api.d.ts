// Type declarations of api.js, the client of qunfa's signed HTTP API (docs/api.md).

export { sha1Hex } from './sha1.js';

/** Answer codes of the API (docs/api.md § Codes). */
export declare const ApiCode: Readonly<{
  OK: 200;
  FORBIDDEN: 403;
  NOT_FOUND: 404;
  BAD_PARAM: 414;
  RATE_LIMITED: 416;
  IN_USE: 417;
  REPEATED: 431;
  INTERNAL: 500;
  RECALL_WINDOW: 508;
}>;

/** Every answer: `{"code":200,…}` or `{"code":N,"desc":"…"}`, with the endpoint's fields. */
export interface ApiAnswer {
  code: number;
  desc?: string;
  [field: string]: any;
}

/** Form parameters: objects and arrays are sent as JSON text; `undefined` and `null` are left out. */
export type ApiParams = Record<string, string | number | boolean | bigint | object | null | undefined>;

export interface CallOptions {
  /** Send a JSON body instead of a form. */
  json?: boolean;
  signal?: AbortSignal;
}

export interface QunfaApiOptions {
  /** The server (`http://host:8080`, or the path qunfa is mounted at behind a proxy); relative URLs resolve against the page. */
  url: string;
  appkey: string;
  /** The AppSecret: it signs every call. Keep it on a server, or in an operator's tab. */
  secret: string;
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Retry once on the server's clock when CurTime is refused as expired. Default true. */
  adjustClock?: boolean;
}

/** A refused call (`ok()`), or an answer that is not qunfa's JSON (`code` 0, with the HTTP `status`). */
export declare class QunfaApiError extends Error {
  constructor(endpoint: string, answer: ApiAnswer, status?: number);
  readonly endpoint: string;
  readonly code: number;
  readonly desc: string;
  readonly answer: ApiAnswer;
  readonly status: number;
}

/** `sha1(appSecret + nonce + curTime)` as lowercase hex: the CheckSum header. */
export declare function checkSum(appSecret: string, nonce: string, curTime: string | number): string;

/** 32 random hex digits. */
export declare function randomNonce(): string;

/** A signing client of one app's API. */
export declare class QunfaApi {
  constructor(options: QunfaApiOptions);
  /** The server's base address, ending with `/`. */
  readonly url: string;
  readonly appkey: string;
  adjustClock: boolean;
  /** Milliseconds added to this machine's clock for CurTime (learnt from the server). */
  readonly clockOffsetMs: number;
  /** The address of an endpoint (`msg/sendMsgToAll`). */
  endpointUrl(endpoint: string): string;
  /** Signs and sends one call; answers the server's JSON whatever its code. */
  call<T extends ApiAnswer = ApiAnswer>(endpoint: string, params?: ApiParams, options?: CallOptions): Promise<T>;
  /** `call`, throwing a {@link QunfaApiError} unless the answer's code is 200. */
  ok<T extends ApiAnswer = ApiAnswer>(endpoint: string, params?: ApiParams, options?: CallOptions): Promise<T & { code: 200 }>;
}
