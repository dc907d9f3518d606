// Type declarations of qunfa.js, the client of qunfa's WebSocket protocol (docs/protocol.md).
// The signed HTTP API client is `qunfa-client/api` (api.d.ts).
// Checked by `tsc` in run-tests.sh against test/types.ts and the packed package.

/** Close codes of the protocol. */
export declare const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  ABNORMAL: 1006;
  PROTOCOL: 1008;
  LOGIN_REFUSED: 4001;
  TIMEOUT: 4002;
  KICKED: 4003;
  TOO_SLOW: 4008;
}>;

/** A message as the server sends it (the `history/queryUserMsgs` shape). */
export interface QunfaMessage {
  /**
   * `p2p` also covers batch sends; `team` is a team message or, with `type` 5, a team
   * notification (its `attach` is `{id, data}`, NIM's notification ids).
   */
  kind: 'p2p' | 'mass' | 'broadcast' | 'team' | 'notify';
  /** The team, on `team` messages. */
  tid?: number;
  /** A team notification's `{id, data}`. */
  attach?: Record<string, unknown>;
  /** Unique within the app, increasing in commit order. */
  msgid: number;
  /** Sender accid. */
  from: string;
  /** Recipient, on `p2p` messages. */
  to?: string;
  /** Milliseconds since the epoch. */
  sendtime: number;
  /** 0 text, 1 image, 2 voice, 3 video, 4 location, 6 file, 10 tip, 100 custom. */
  type: number;
  /** An object; plain text for broadcasts. */
  body: Record<string, unknown> | string;
  ext?: string;
  /** The app's own id for the message (from `sendMsg`). */
  msgidclient?: string;
  /** The sender wants a read receipt: call `markRead(msgid)` once it is read. */
  markRead?: boolean;
}

/** A recall notice: `recallMsgid` was withdrawn and should disappear. */
export interface QunfaRecall {
  /** The notice's own msgid (cursors cover it). */
  msgid: number;
  recallMsgid: number;
  from: string;
  time: number;
  /** The team, for a team message. */
  tid?: number;
}

/** A custom notification (`msg/sendAttachMsg`): `attach` is the sender's text. */
export interface QunfaNotify {
  msgid: number;
  from: string;
  /** To a team's members. */
  tid?: number;
  /** To one account. */
  to?: string;
  attach: string;
  time: number;
}

/**
 * Something about teams that is not a message: `teamInvite` (a pending invitation: answer with
 * `acceptInvite` / `rejectInvite`), `teamApply` (an application to a team this account
 * manages: `passApply` / `rejectApply`), `teamInviteRejected`, `teamApplyRejected`.
 */
export interface QunfaTeamEvent {
  op: 'teamInvite' | 'teamApply' | 'teamInviteRejected' | 'teamApplyRejected';
  tid: number;
  time: number;
  [field: string]: unknown;
}

/** What `send` needs: `to` an accid, or `tid` a team. */
export interface QunfaSend {
  /** The recipient accid (point-to-point). */
  to?: string;
  /** The team (a team message). */
  tid?: number;
  /** Default 0 (text). */
  type?: number;
  /** For example `{msg: 'hi'}` for text. */
  body: Record<string, unknown>;
  ext?: string;
  /** Ask for read receipts. */
  markRead?: boolean;
  /**
   * Idempotency key; one is made when absent. A send repeated with the same key (after a
   * reconnect) is stored once.
   */
  msgidClient?: string;
}

/** The answer to a `send` once the message is stored. */
export interface QunfaSent {
  msgid: number;
  timetag: number;
  antispam: boolean;
  msgidClient: string;
}

/** A read receipt for a message this account sent with `markRead`. */
export interface QunfaReceipt {
  msgid: number;
  reader: string;
  time: number;
  /** The team, for a team message. */
  tid?: number;
}

/**
 * - `connecting`: opening the socket and logging in;
 * - `syncing`: logged in, receiving the catch-up;
 * - `live`: caught up, events arrive as they happen;
 * - `reconnecting`: the connection ended; the next attempt starts in `delayMs`;
 * - `refused`: login refused (close 4001; `code` and `desc` from the server): no retry;
 * - `kicked`: the session was ended (close 4003; `reason`): no retry;
 * - `failed`: protocol violation (close 1008): no retry;
 * - `closed`: `close()` was called.
 */
export type QunfaState =
  | 'connecting'
  | 'syncing'
  | 'live'
  | 'reconnecting'
  | 'refused'
  | 'kicked'
  | 'failed'
  | 'closed';

/** A change of connection state, as `onStatus` gets it. */
export interface QunfaStatus {
  state: QunfaState;
  /** The client's cursor at this moment. */
  cursor: number;
  /** The WebSocket close code that caused the change. */
  closeCode?: number;
  /** The login answer's code (`refused`). */
  code?: number;
  /** The login answer's desc (`refused`). */
  desc?: string;
  /** Close or kick reason. */
  reason?: string;
  /** Consecutive failed attempts so far (`reconnecting`). */
  attempt?: number;
  /** Wait before the next attempt (`reconnecting`). */
  delayMs?: number;
}

/** Why `refreshToken` is called. */
export interface QunfaTokenRefresh {
  /** `refused`: the login answered 302 (wrong token); `kicked`: 4003 after `user/refreshToken`. */
  reason: 'refused' | 'kicked';
  closeCode: 4001 | 4003 | number;
  /** The login answer's code (`refused`). */
  code?: number;
  /** The login answer's desc, or the kick reason. */
  desc?: string;
  accid: string;
}

/** What `onMessage` and `onRecall` are told besides the event. */
export interface DeliveryInfo {
  /** False during the catch-up after a login. */
  live: boolean;
}

/** Any WebSocket class: the browser's, or `ws`'s default export in Node 20. */
export type WebSocketClass = new (url: string) => {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onerror: ((ev: any) => any) | null;
  onclose: ((ev: { code: number; reason: string }) => any) | null;
};

type Awaitable<T> = T | Promise<T>;

export interface QunfaOptions {
  /** `http(s)://host:port` (the client adds `/ws`) or the WebSocket address (`ws(s)://host:port/ws`). */
  url: string;
  appkey: string;
  accid: string;
  token: string;
  /** Highest msgid already held; messages after it are sent. Default 0. */
  cursor?: number;
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketClass;
  /** Called when `connect()` starts (may be async); the larger of its answer and `cursor` is used. */
  loadCursor?: () => Awaitable<number>;
  /**
   * The server answered the login with `reset`: it held nothing up to this client's cursor
   * (restored or recreated data), so the cursor went back to the server's latest msgid.
   */
  onReset?: (info: { cursor: number }) => void;
  /** Called with the cursor each time it is acknowledged (at most every `ackIntervalMs`) and on `close()`. */
  saveCursor?: (cursor: number) => Awaitable<void>;
  /** Each message once; `live` is false during the catch-up. */
  onMessage?: (msg: QunfaMessage, info: DeliveryInfo) => Awaitable<void>;
  onRecall?: (recall: QunfaRecall, info: DeliveryInfo) => Awaitable<void>;
  onReceipt?: (receipt: QunfaReceipt) => void;
  /** Each custom notification once; `live` is false during the catch-up. */
  onNotify?: (notify: QunfaNotify, info: DeliveryInfo) => Awaitable<void>;
  /** Pending invitations arrive again after every login until answered. */
  onTeamEvent?: (event: QunfaTeamEvent) => void;
  /** How long `send`, `recall` and the team calls wait for their answer (across reconnects). Default 15000. */
  requestTimeoutMs?: number;
  onStatus?: (status: QunfaStatus) => void;
  /** A callback or hook threw; default `console.error`. */
  onError?: (error: unknown) => void;
  /**
   * The token stopped working (login refused with 302, or kicked after `user/refreshToken`):
   * answer a new one to log in again with it, or nothing to stop.
   */
  refreshToken?: (info: QunfaTokenRefresh) => Awaitable<string | null | undefined>;
  /** Acks are batched: at most one per interval. Default 200. */
  ackIntervalMs?: number;
  /** First reconnect delay. Default 500. */
  minDelayMs?: number;
  /** Reconnect delays grow up to this. Default 30000. */
  maxDelayMs?: number;
  /**
   * A `ping` is sent after this long without a frame; a connection that stays silent for
   * another interval is treated as lost (and replaced). 0 turns it off. Default 30000.
   */
  heartbeatMs?: number;
  /** How many recent msgids are remembered for de-duplication. Default 10000. */
  dedupeWindow?: number;
}

/** An error `connect()` rejects with: the final state and its details. */
export interface QunfaConnectError extends Error, Partial<Omit<QunfaStatus, 'cursor'>> {
  state: 'refused' | 'kicked' | 'failed' | 'closed';
}

/**
 * A client session of one account: logs in, catches up, then receives live events;
 * reconnects by itself until it is closed, refused or kicked.
 */
export declare class QunfaClient {
  constructor(options: QunfaOptions);
  /** The WebSocket address used. */
  readonly url: string;
  readonly appkey: string;
  readonly accid: string;
  /** Used at every login; set a new one after a `kicked` for a refreshed token, then `connect()`. */
  token: string;
  /** Highest msgid seen and handled (messages and recall notices). */
  readonly cursor: number;
  /** The connection state, as last reported to `onStatus`. */
  readonly state: QunfaState;
  /** Resolves once the first catch-up is complete; rejects with a {@link QunfaConnectError}. */
  connect(): Promise<void>;
  /** Reports messages as read (sent now, or after the next login). */
  markRead(msgids: number | number[]): void;
  /**
   * Sends a message as this account: point-to-point (`to`) or into a team (`tid`). Resolves
   * once it is stored; rejects with an Error carrying the server's `code` and `desc` (the
   * codes of `msg/sendMsg`; 416 past the gateway's per-account rate). A send interrupted by a
   * reconnect is sent again with the same `msgidClient`, which the server stores once.
   */
  send(m: QunfaSend): Promise<QunfaSent>;
  /** Recalls a message this account sent, inside the server's recall window. */
  recall(msgid: number): Promise<void>;
  /** Accepts a pending team invitation. */
  acceptInvite(tid: number): Promise<void>;
  /** Turns a team invitation down. */
  rejectInvite(tid: number, msg?: string): Promise<void>;
  /** Applies to join a team: `pending` true when the owner or a manager decides. */
  apply(tid: number, msg?: string): Promise<{ pending: boolean }>;
  /** As a team's owner or manager, admits an applicant. */
  passApply(tid: number, accid: string): Promise<void>;
  /** As a team's owner or manager, turns an applicant down. */
  rejectApply(tid: number, accid: string, msg?: string): Promise<void>;
  /** Acknowledges the cursor now and saves it through `saveCursor`. */
  ack(): Promise<void>;
  /** Acknowledges and saves the cursor, closes the socket, stops reconnecting. */
  close(): Promise<void>;
}

/** The WebSocket address for a server URL. */
export declare function wsUrl(url: string): string;
