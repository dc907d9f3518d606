// words.js: the app's keyword filter list (`antispam/getWords`, `antispam/setWords`). A send
// whose text contains one is stored, flagged and delivered to nobody. And the app's callbacks:
// the message copy (抄送) URL, the events copied and the pre-send check's URL
// (`app/getCallback`, `app/setCallback`), with the outbox's dead letters, resent one by one or
// all at once (`app/listDeadCallbacks`, `app/resendCallbacks`).

import { h, field, check, num, time, screenTitle, describe, busy, alertBox, toast, confirmDialog } from './ui.js';

const MAX_WORDS = 10_000;
const MAX_CHARS = 64;

export async function render(ctx) {
  const { api, view } = ctx;
  const r = await api.ok('antispam/getWords');
  const words = h('textarea', { name: 'words', rows: 12, spellcheck: 'false', lang: 'zh-CN' });
  words.value = r.data.words.join('\n');
  const info = h('p', { class: 'hint', id: 'words-info', 'aria-live': 'polite' });
  const error = alertBox();
  const save = h('button', { type: 'submit', text: 'Save the list' });
  const list = () => [...new Set(words.value.split('\n').map((w) => w.trim()).filter(Boolean))];
  const count = () => {
    info.textContent = `${num(list().length)} words. ASCII case is ignored; the server's global list (antispam.words_file) applies too.`;
  };
  words.addEventListener('input', count);
  count();
  const form = h('form', { class: 'panel', id: 'words-form' },
    field('Words, one per line', words, `Up to ${num(MAX_WORDS)} words of 1 to ${MAX_CHARS} characters; matched in every text of a message (body and ext).`),
    info, h('div', { class: 'actions start' }, save), error.el);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    const w = list();
    const long = w.find((x) => [...x].length > MAX_CHARS);
    if (long) {
      error.show(`“${long}” is longer than ${MAX_CHARS} characters.`);
      return;
    }
    busy(save, async () => {
      const a = await api.call('antispam/setWords', { words: w });
      if (a.code !== 200) {
        error.show(describe(a));
        return;
      }
      words.value = w.join('\n');
      count();
      toast(`Saved ${num(w.length)} words.`);
    });
  });
  view.append(screenTitle('Keyword filter and callbacks'), h('h2', { text: 'Keyword filter' }), form);
  await callbacks(ctx);
}

/** The events `app/setCallback` copies, as its `events` parameter names them. */
const EVENTS = [
  ['messages', 'Messages', 'every send: point-to-point, team, targeted, broadcast'],
  ['recalls', 'Recalls', 'recalls of any of them'],
  ['logins', 'Logins and logouts', 'gateway sessions'],
];

/** What an event's `eventType` is, in words. */
const EVENT_TYPES = { 1: 'message', 2: 'login', 3: 'logout', 7: 'recall', 8: 'team recall' };

/** The page of dead letters shown at once (the endpoint allows up to 1,000). */
const PAGE = 100;

async function callbacks(ctx) {
  const { api, view } = ctx;
  const cards = h('dl', { class: 'cards', id: 'callback-status', 'aria-label': 'Callback outbox' });
  const url = h('input', { name: 'cb-url', type: 'url', maxlength: 1024, spellcheck: 'false', autocomplete: 'off', placeholder: 'https://app.example/cb' });
  const preSend = h('input', { name: 'cb-presend', type: 'url', maxlength: 1024, spellcheck: 'false', autocomplete: 'off', placeholder: 'https://app.example/check' });
  const boxes = EVENTS.map(([value, label, hint]) => ({ value, ...check(`${label} (${hint})`, { name: 'cb-events', value }) }));
  const save = h('button', { type: 'submit', text: 'Save the callbacks' });
  const answer = h('p', { id: 'callback-answer', role: 'status' });
  const error = alertBox();
  error.el.id = 'callback-error';
  const form = h('form', { class: 'panel', id: 'callback-form', 'aria-labelledby': 'callback-title', novalidate: true },
    field('Message copy (抄送) URL', url, 'Where events are POSTed, signed with the AppSecret; http:// or https://. Empty switches copying off.'),
    h('fieldset', {}, h('legend', { text: 'Events copied' }), boxes.map((b) => b.el)),
    field('Pre-send check (第三方回调) URL', preSend, 'Asked before a message a client sends over the gateway is stored: it may pass, block or rewrite it (server-API sends are never checked). Empty: no check.'),
    h('div', { class: 'actions start' }, save), answer, error.el);

  const deadError = alertBox();
  deadError.el.id = 'dead-error';
  deadError.el.tabIndex = -1;
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'callback-refresh', text: 'Refresh' });
  const resendAll = h('button', { type: 'button', id: 'resend-all', text: 'Resend all' });
  const more = h('button', { type: 'button', class: 'secondary', text: 'Show more', hidden: true });
  const tbody = h('tbody');
  const list = h('div', { class: 'table-wrap' }, h('table', { id: 'dead-letters' },
    h('caption', { text: 'Dead letters: events given up after every attempt failed' }),
    h('thead', {}, h('tr', {}, ['Event', 'Type', 'Attempts', 'Last error', 'Created', ''].map((t) => h('th', { scope: 'col', text: t })))),
    tbody));
  const empty = h('p', { class: 'muted', id: 'dead-empty', text: 'No dead letters.' });

  view.append(h('h2', { id: 'callback-title', text: 'Callbacks' }),
    h('p', { class: 'hint', text: "Events are sent one at a time in order and retried with backoff; after the server's last attempt (callbacks.max_attempts) they stay here until resent." }),
    cards, form,
    h('h3', { text: 'Dead letters' }),
    h('div', { class: 'actions start' }, refresh, resendAll), deadError.el, list, empty, h('div', { class: 'actions start' }, more));

  const card = (label, value, note, key) => h('div', { class: 'card', dataset: { key } },
    h('dt', { text: label }),
    h('dd', {}, h('span', { class: 'value', text: value }), note ? h('span', { class: 'note', text: note }) : null));

  function fill(info) {
    url.value = info.url ?? '';
    preSend.value = info.preSendUrl ?? '';
    const on = new Set(String(info.events ?? '').split(',').filter(Boolean));
    for (const b of boxes) b.box.checked = on.has(b.value);
  }

  async function status() {
    const info = (await api.ok('app/getCallback')).info;
    cards.replaceChildren(
      card('Pending', num(info.pending), info.nextTime ? `next due ${time(info.nextTime)}` : 'none due', 'pending'),
      card('Dead letters', num(info.dead), info.dead ? 'listed below' : 'none', 'dead'));
    resendAll.disabled = !info.dead;
    return info;
  }

  let last = 0;
  function row(e) {
    const resend = h('button', { type: 'button', class: 'link', text: 'Resend', 'aria-label': `Resend event ${e.eventId}` });
    resend.addEventListener('click', () => busy(resend, () => doResend([e.eventId])));
    const type = EVENT_TYPES[e.eventType] ?? 'event';
    return h('tr', { dataset: { eventId: e.eventId } },
      h('td', { class: 'num', text: e.eventId }),
      h('td', {}, `${e.eventType} (${type})`, e.msgid ? h('span', { class: 'note muted', text: ` msgid ${e.msgid}` }) : null),
      h('td', { class: 'num', text: num(e.attempts) }),
      h('td', { class: 'mono', text: e.lastError ?? '' }),
      h('td', { class: 'nowrap', text: time(e.createTime) }),
      h('td', {}, resend));
  }

  async function page(fresh) {
    if (fresh) {
      last = 0;
      tbody.replaceChildren();
    }
    const r = await api.ok('app/listDeadCallbacks', { after: last, limit: PAGE });
    tbody.append(...r.list.map(row));
    if (r.list.length) last = r.list[r.list.length - 1].eventId;
    more.hidden = r.list.length < PAGE;
    list.hidden = !tbody.children.length;
    empty.hidden = !list.hidden;
  }

  async function redraw() {
    await Promise.all([status(), page(true)]);
  }

  async function doResend(ids) {
    const r = await api.call('app/resendCallbacks', ids ? { ids } : {}).catch((e) => e);
    if (r.code !== 200) {
      deadError.show(describe(r));
      deadError.el.focus();
      return;
    }
    deadError.clear();
    toast(`${num(r.resent)} ${r.resent === 1 ? 'dead letter' : 'dead letters'} sent again.`);
    await redraw();
    resendAll.focus();
  }

  refresh.addEventListener('click', () => busy(refresh, async () => {
    deadError.clear();
    await redraw().catch((e) => deadError.show(describe(e)));
  }));
  resendAll.addEventListener('click', async () => {
    if (await confirmDialog('Send every dead letter again, each with a fresh series of attempts?', { confirmText: 'Resend all' })) {
      await busy(resendAll, () => doResend(null));
    }
  });
  more.addEventListener('click', () => busy(more, () => page(false).catch((e) => deadError.show(describe(e)))));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    answer.textContent = '';
    const events = boxes.filter((b) => b.box.checked).map((b) => b.value).join(',') || 'none';
    busy(save, async () => {
      const a = await api.call('app/setCallback', { url: url.value.trim(), events, preSendUrl: preSend.value.trim() }).catch((e) => e);
      if (a.code !== 200) {
        error.show(describe(a));
        return;
      }
      fill(a.info);
      answer.textContent = `Saved. ${a.info.url ? `Copies of ${a.info.events || 'no events'} go to ${a.info.url}` : 'Copying is off'}; ${a.info.preSendUrl ? `sends are checked at ${a.info.preSendUrl}` : 'no pre-send check'}.`;
      await status();
    });
  });

  fill(await status());
  await page(true);
}
