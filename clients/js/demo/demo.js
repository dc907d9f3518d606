// The demo inbox: signs in with qunfa.js and shows an account's messages as they arrive, and a
// team conversation with a composer (team messages and notifications, sends over the gateway).
// Every value from the server reaches the page through textContent or checked URLs, never as HTML.

import { QunfaClient } from './qunfa.js';

const $ = (id) => document.getElementById(id);
const form = $('login');
const inbox = $('inbox');
const saved = { url: 'qunfa.demo.url', appkey: 'qunfa.demo.appkey', accid: 'qunfa.demo.accid' };
const TYPE_NAMES = { 0: 'text', 1: 'image', 2: 'voice', 3: 'video', 4: 'location', 6: 'file', 10: 'tip', 100: 'custom' };

/** @type {QunfaClient|null} */
let client = null;
/** Msgids this account marked read from this browser, kept across sessions (most recent last). */
let readKey = '';
let readIds = new Set();
const MAX_READ_IDS = 2000;

function loadReads(key) {
  readKey = key;
  try {
    const ids = JSON.parse(localStorage.getItem(key) || '[]');
    readIds = new Set(Array.isArray(ids) ? ids.filter(Number.isSafeInteger) : []);
  } catch {
    readIds = new Set();
  }
}

function rememberRead(msgid) {
  readIds.delete(msgid);
  readIds.add(msgid);
  const ids = [...readIds].slice(-MAX_READ_IDS);
  readIds = new Set(ids);
  localStorage.setItem(readKey, JSON.stringify(ids));
}

form.url.value = localStorage.getItem(saved.url) || location.origin;
form.appkey.value = localStorage.getItem(saved.appkey) || '';
form.accid.value = localStorage.getItem(saved.accid) || '';
form.token.value = sessionStorage.getItem('qunfa.demo.token') || '';

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  signIn({
    url: form.url.value.trim(),
    appkey: form.appkey.value.trim(),
    accid: form.accid.value.trim().toLowerCase(),
    token: form.token.value,
    history: form.history.checked,
  });
});
$('logout').addEventListener('click', () => signOut());

inbox.addEventListener('click', (ev) => {
  const item = ev.target.closest('li.msg');
  if (item) open(item);
});
inbox.addEventListener('keydown', (ev) => {
  const item = ev.target.closest('li.msg');
  if (item && (ev.key === 'Enter' || ev.key === ' ')) {
    ev.preventDefault();
    open(item);
  }
});

function signIn({ url, appkey, accid, token, history }) {
  showError('');
  localStorage.setItem(saved.url, url);
  localStorage.setItem(saved.appkey, appkey);
  localStorage.setItem(saved.accid, accid);
  sessionStorage.setItem('qunfa.demo.token', token);
  const cursorKey = `qunfa.demo.cursor.${appkey}.${accid}`;
  loadReads(`qunfa.demo.read.${appkey}.${accid}`);
  try {
    client = new QunfaClient({
      url,
      appkey,
      accid,
      token,
      // Catch up from the start, or resume after the last message this browser saw.
      loadCursor: () => (history ? 0 : Number(localStorage.getItem(cursorKey) || 0)),
      saveCursor: (c) => {
        localStorage.setItem(cursorKey, String(c));
        $('cursor').textContent = String(c);
      },
      onMessage: (m, { live }) => (m.kind === 'team' ? addTeamMessage(m, live) : addMessage(m, live)),
      onRecall: (r) => (r.tid ? removeTeamMessage(r.recallMsgid) : removeMessage(r.recallMsgid)),
      onTeamEvent: teamEvent,
      onReceipt: addReceipt,
      onStatus: showStatus,
    });
  } catch (e) {
    showError(e.message);
    return;
  }
  inbox.replaceChildren();
  teams.clear();
  openTeam(null);
  $('invites').replaceChildren();
  $('activity').replaceChildren();
  $('activity-count').textContent = '0';
  $('activity-box').hidden = true;
  $('who').textContent = accid;
  $('cursor').textContent = '0';
  updateEmpty();
  $('login-panel').hidden = true;
  $('inbox-panel').hidden = false;
  client.connect().catch(() => {
    // onStatus already told the user why.
  });
}

async function signOut(message = '') {
  const c = client;
  client = null;
  await c?.close();
  $('inbox-panel').hidden = true;
  $('login-panel').hidden = false;
  showError(message);
  if (!message) showStatus({ state: 'closed' });
}

function showError(text) {
  $('login-error').textContent = text;
  $('login-error').hidden = !text;
}

function showStatus(s) {
  const el = $('status');
  el.dataset.state = s.state;
  const text = {
    connecting: 'connecting…',
    syncing: 'catching up…',
    live: 'live',
    reconnecting: `connection lost${s.closeCode ? ` (${s.closeCode})` : ''}; retrying in ${((s.delayMs ?? 0) / 1000).toFixed(1)} s`,
    refused: `sign-in refused: ${s.desc ?? s.code}`,
    kicked: `signed out by the server: ${s.reason}`,
    failed: `protocol error: ${s.reason || s.closeCode}`,
    closed: 'signed out',
  }[s.state];
  el.textContent = text ?? s.state;
  if (s.cursor !== undefined && client) $('cursor').textContent = String(s.cursor);
  if (['refused', 'kicked', 'failed'].includes(s.state) && client) {
    signOut(text);
  }
}

// ---- the inbox ----

function addMessage(m, live) {
  if (inbox.querySelector(`li[data-msgid="${m.msgid}"]`)) return;
  const li = el('li', 'msg');
  li.dataset.msgid = String(m.msgid);
  li.dataset.kind = m.kind;
  li.dataset.type = String(m.type);
  li.tabIndex = 0;
  if (live) {
    li.classList.add('new');
    setTimeout(() => li.classList.remove('new'), 4000);
  }

  const meta = el('div', 'meta');
  meta.append(el('span', 'from', m.from));
  meta.append(el('span', `badge kind-${m.kind}`, m.kind === 'mass' ? 'mass send' : m.kind));
  if (m.kind !== 'broadcast') meta.append(el('span', 'badge', typeName(m)));
  const time = el('time', 'time', formatTime(m.sendtime));
  time.dateTime = new Date(m.sendtime).toISOString();
  meta.append(time);
  if (m.markRead) {
    // Read in an earlier session of this browser: shown read, and not reported again.
    const read = readIds.has(m.msgid);
    li.classList.add('wants-read');
    if (read) li.classList.add('read');
    meta.append(el('span', 'readmark', read ? 'read ✓' : 'open to mark read'));
  }
  li.append(meta, content(m));

  // Newest first, by msgid (live events may arrive slightly out of order).
  const after = [...inbox.children].find((x) => Number(x.dataset.msgid) < m.msgid);
  inbox.insertBefore(li, after ?? null);
  updateEmpty();
}

function removeMessage(msgid) {
  const li = inbox.querySelector(`li[data-msgid="${msgid}"]`);
  if (!li) return;
  li.classList.add('recalled');
  li.addEventListener('transitionend', () => {
    li.remove();
    updateEmpty();
  }, { once: true });
  // If no transition runs (reduced motion, hidden tab), remove it anyway.
  setTimeout(() => {
    li.remove();
    updateEmpty();
  }, 400);
}

function open(li) {
  li.classList.toggle('open');
  li.classList.remove('new');
  if (li.classList.contains('wants-read') && !li.classList.contains('read') && client) {
    client.markRead(Number(li.dataset.msgid));
    rememberRead(Number(li.dataset.msgid));
    li.classList.add('read');
    li.querySelector('.readmark').textContent = 'read ✓';
  }
}

function addReceipt(r) {
  const box = $('activity-box');
  box.hidden = false;
  const item = el('li', '', `${r.reader} read #${r.msgid} · ${formatTime(r.time)}`);
  $('activity').prepend(item);
  $('activity-count').textContent = String($('activity').children.length);
}

function updateEmpty() {
  $('empty').hidden = inbox.children.length > 0;
}

// ---- the team conversation ----

/** Team messages received so far, per tid, in msgid order. */
const teams = new Map();
let openTid = null;
const OPS = {
  0: (d, from) => (d.team_info ? `${from} created the team` : `${from} added ${list(d.ids)}`),
  1: (d, from) => `${from} removed ${list(d.ids)}`,
  2: (d) => `${d.id} left`,
  3: (d, from) => `${from} changed ${Object.keys(d.team_info ?? {}).join(', ')}`,
  4: (d, from) => `${from} dismissed the team`,
  5: (d) => `${d.id} joined`,
  6: (d, from) => `${from} handed the team to ${d.id}`,
  7: (d, from) => `${from} made ${list(d.ids)} manager`,
  8: (d, from) => `${from} removed ${list(d.ids)} as manager`,
  9: (d) => `${d.id} accepted the invitation`,
  10: (d, from) => `${from} ${d.mute ? 'muted' : 'unmuted'} ${d.id}`,
};
const list = (ids) => (Array.isArray(ids) && ids.length ? ids.join(', ') : 'nobody');

$('team-open').addEventListener('submit', (ev) => {
  ev.preventDefault();
  openTeam(Number($('team-open').tid.value));
});

$('composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('composer').text;
  const text = input.value.trim();
  if (!text || !client || !openTid) return;
  composerError('');
  input.value = '';
  try {
    await client.send({ tid: openTid, body: { msg: text } });
  } catch (e) {
    input.value = text;
    composerError(`not sent: ${e.desc ?? e.message}${e.code ? ` (${e.code})` : ''}`);
  }
});

function composerError(text) {
  $('composer-error').textContent = text;
  $('composer-error').hidden = !text;
}

function openTeam(tid) {
  openTid = Number.isSafeInteger(tid) && tid > 0 ? tid : null;
  $('team-open').tid.value = openTid ? String(openTid) : '';
  $('composer').hidden = !openTid;
  $('team-title').hidden = !openTid;
  const named = (teams.get(openTid) ?? []).findLast((m) => m.attach?.data?.team_info?.tname);
  const tname = named?.attach.data.team_info.tname;
  $('team-title').textContent = openTid ? `${tname ? `${tname} · ` : ''}team ${openTid}` : '';
  composerError('');
  const log = $('team-log');
  log.replaceChildren();
  for (const m of teams.get(openTid) ?? []) log.append(teamLine(m));
}

function addTeamMessage(m, live) {
  const list = teams.get(m.tid) ?? [];
  if (list.some((x) => x.msgid === m.msgid)) return;
  list.push(m);
  list.sort((a, b) => a.msgid - b.msgid);
  teams.set(m.tid, list);
  if (m.type === 5 && m.attach?.data?.team_info?.tname && openTid === m.tid) {
    $('team-title').textContent = `${m.attach.data.team_info.tname} · team ${m.tid}`;
  }
  // The first team heard of opens by itself.
  if (openTid === null) {
    openTeam(m.tid);
    return;
  }
  if (m.tid !== openTid) return;
  const log = $('team-log');
  const li = teamLine(m);
  if (live) {
    li.classList.add('new');
    setTimeout(() => li.classList.remove('new'), 4000);
  }
  const after = [...log.children].find((x) => Number(x.dataset.msgid) > m.msgid);
  log.insertBefore(li, after ?? null);
  li.scrollIntoView?.({ block: 'nearest' });
}

function removeTeamMessage(msgid) {
  for (const [tid, list] of teams) teams.set(tid, list.filter((m) => m.msgid !== msgid));
  $('team-log').querySelector(`li[data-msgid="${msgid}"]`)?.remove();
}

function teamLine(m) {
  const li = el('li', m.type === 5 ? 'note' : 'said');
  li.dataset.msgid = String(m.msgid);
  if (m.type === 5) {
    const op = OPS[m.attach?.id];
    li.textContent = op ? op(m.attach.data ?? {}, m.from) : `team notification ${m.attach?.id}`;
    return li;
  }
  if (client && m.from === client.accid) li.classList.add('mine');
  const meta = el('div', 'meta');
  meta.append(el('span', 'from', m.from));
  const time = el('time', 'time', formatTime(m.sendtime));
  time.dateTime = new Date(m.sendtime).toISOString();
  meta.append(time);
  li.append(meta, content(m));
  return li;
}

function teamEvent(e) {
  if (e.op !== 'teamInvite') return;
  const box = $('invites');
  if (box.querySelector(`li[data-tid="${e.tid}"]`)) return;
  const li = el('li', 'invite');
  li.dataset.tid = String(e.tid);
  li.append(el('span', '', `${e.inviter} invites you to ${e.tname} (team ${e.tid})${e.msg ? `: ${e.msg}` : ''}`));
  const accept = el('button', 'secondary', 'Accept');
  accept.type = 'button';
  accept.addEventListener('click', async () => {
    try {
      await client?.acceptInvite(e.tid);
      li.remove();
      openTeam(e.tid);
    } catch (err) {
      li.append(el('span', 'error', ` ${err.desc ?? err.message}`));
    }
  });
  li.append(accept);
  box.append(li);
}

// ---- message content ----

/** The type's name when the body looks like one (the original request sends cards as type 2). */
function typeName(m) {
  const media = [2, 3, 6].includes(m.type);
  if (TYPE_NAMES[m.type] && (!media || typeof m.body?.url === 'string')) return TYPE_NAMES[m.type];
  return `type ${m.type}`;
}

function content(m) {
  const body = m.body;
  if (m.kind === 'broadcast' || typeof body !== 'object' || body === null) {
    return el('p', 'text', typeof body === 'string' ? body : JSON.stringify(body));
  }
  switch (m.type) {
    case 0:
      return el('p', 'text', String(body.msg ?? ''));
    case 10:
      return el('p', 'tip', String(body.msg ?? ''));
    case 1:
      if (safeUrl(body.url)) return imageContent(body);
      break;
    case 4:
      return locationContent(body);
    default:
      break;
  }
  return card(body);
}

function imageContent(body) {
  const fig = el('figure', 'image');
  fig.append(image(body.url, body.name ?? 'image'));
  if (body.name) fig.append(el('figcaption', '', body.name));
  return fig;
}

function locationContent(body) {
  const div = el('div', 'location');
  div.append(el('span', 'pin'));
  div.append(el('strong', '', String(body.title ?? 'Location')));
  if (Number.isFinite(body.lat) && Number.isFinite(body.lng)) {
    div.append(el('span', 'coords', `${body.lat.toFixed(5)}, ${body.lng.toFixed(5)}`));
  }
  return div;
}

const TITLE = ['contenttitle', 'title', 'name', 'subject'];
const IMAGE = ['covermedia', 'cover', 'coverimage', 'image', 'imageUrl', 'img', 'pic', 'thumbnail', 'icon'];
const DESC = ['contentdesc', 'desc', 'description', 'summary', 'content', 'text', 'msg'];
const SOURCE = ['companyname', 'source', 'author'];

/** Any other body: a card with its title, image and description, then the other fields. */
function card(body) {
  const used = new Set();
  const pick = (keys, ok = (v) => typeof v === 'string' && v.trim() !== '') => {
    const k = keys.find((key) => ok(body[key]));
    if (k) used.add(k);
    return k ? body[k] : undefined;
  };
  const title = pick(TITLE);
  const img = pick(IMAGE, safeUrl);
  const desc = pick(DESC);
  const source = pick(SOURCE);

  const div = el('div', 'card');
  if (img) div.append(image(img, title ?? ''));
  const text = el('div', 'card-text');
  if (title) text.append(el('h3', 'card-title', title));
  if (source) text.append(el('p', 'card-source', source));
  if (desc) text.append(el('p', 'card-desc', desc));
  div.append(text);

  const rest = Object.entries(body).filter(([k, v]) => !used.has(k) && v !== null && v !== '');
  if (rest.length > 0) {
    const dl = el('dl', 'fields');
    for (const [k, v] of rest) {
      dl.append(el('dt', '', k), el('dd', '', typeof v === 'object' ? JSON.stringify(v) : String(v)));
    }
    if (title || img || desc) {
      const more = el('details', 'more');
      more.append(el('summary', '', `${rest.length} more field${rest.length === 1 ? '' : 's'}`), dl);
      // Opening the details is not opening the message.
      more.addEventListener('click', (ev) => ev.stopPropagation());
      text.append(more);
    } else {
      text.append(dl);
    }
  }
  return div;
}

function image(src, alt) {
  const img = el('img');
  img.src = src;
  img.alt = alt;
  img.loading = 'lazy';
  img.referrerPolicy = 'no-referrer';
  img.addEventListener('error', () => img.replaceWith(el('div', 'noimage', 'image unavailable')), { once: true });
  return img;
}

function safeUrl(v) {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' || (u.protocol === 'data:' && /^data:image\//.test(v));
  } catch {
    return false;
  }
}

function el(tag, cls = '', text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function formatTime(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
