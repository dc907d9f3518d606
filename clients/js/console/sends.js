// sends.js: the history of targeted sends (`history/queryMassMsgs`) and broadcasts
// (`history/queryBroadcastMsg`), newest first; and one send's page (funnel.js).

import { h, num, screenTitle, time, describe, busy } from './ui.js';
import { audienceText } from './overview.js';
import { renderFunnelPage } from './funnel.js';

const PAGE = 20;

/** A line of text saying what a message was. */
export function summary(m) {
  const b = m.body;
  if (typeof b === 'string') return clip(b);
  if (b && typeof b === 'object') {
    const t = b.msg ?? b.contenttitle ?? b.title ?? b.name ?? b.url;
    if (typeof t === 'string') return clip(t);
    return clip(JSON.stringify(b));
  }
  return '';
}

function clip(s, n = 60) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export async function render(ctx, args) {
  if (args[0]) return renderFunnelPage(ctx, Number(args[0]));
  const { api, view } = ctx;
  const dicts = await ctx.dicts();
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more' });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  view.append(screenTitle('Sends'),
    h('p', { class: 'hint', text: 'Targeted sends and broadcasts, newest first. Open one to follow its delivery.' }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'sends' },
      h('caption', { class: 'sr-only', text: 'Sends' }),
      h('thead', {}, h('tr', {}, ['msgid', 'Sent', 'Kind', 'Message', 'Audience', 'Recipients', ''].map((t) => h('th', { scope: 'col', text: t })))),
      body)),
    h('div', { class: 'actions start' }, more), status);

  // Two listings merged by msgid: a row is shown once neither listing can still hold a newer one.
  const streams = {
    mass: { cursor: 0, done: false, buffer: [] },
    broadcast: { start: 0, done: false, buffer: [] },
  };
  async function fill(stream) {
    const s = streams[stream];
    if (s.done || s.buffer.length) return;
    if (stream === 'mass') {
      const r = await api.ok('history/queryMassMsgs', { cursor: s.cursor, limit: PAGE });
      s.buffer.push(...r.msgs.map((m) => ({ ...m, kind: 'targeted' })));
      s.cursor = r.cursor;
      s.done = r.msgs.length < PAGE || r.cursor <= 1;
    } else {
      const r = await api.ok('history/queryBroadcastMsg', { broadcastId: s.start, limit: PAGE });
      s.buffer.push(...r.msgs.map((b) => ({
        msgid: b.broadcastId, timetag: b.createTime, body: b.body, kind: 'broadcast', selection: null, recipients: null,
      })));
      const last = r.msgs.at(-1)?.broadcastId ?? 0;
      s.start = last - 1;
      s.done = r.msgs.length < PAGE || last <= 1;
    }
  }
  async function page() {
    let shown = 0;
    while (shown < PAGE) {
      await Promise.all([fill('mass'), fill('broadcast')]);
      const a = streams.mass.buffer[0];
      const b = streams.broadcast.buffer[0];
      if (!a && !b) break;
      const next = !b || (a && a.msgid > b.msgid) ? streams.mass.buffer.shift() : streams.broadcast.buffer.shift();
      body.append(row(next));
      shown += 1;
    }
    const exhausted = Object.values(streams).every((s) => s.done && s.buffer.length === 0);
    more.hidden = exhausted;
    status.textContent = body.children.length === 0 ? 'Nothing sent yet.' : `${num(body.children.length)} sends shown.`;
  }
  function row(m) {
    const state = m.recalled ? h('span', { class: 'badge bad', text: 'recalled' })
      : m.antispam ? h('span', { class: 'badge bad', text: 'stopped by the filter' }) : null;
    return h('tr', { dataset: { msgid: m.msgid } },
      h('td', {}, h('a', { href: `#/sends/${m.msgid}`, text: `#${m.msgid}` })),
      h('td', { text: time(m.timetag) }),
      h('td', {}, m.kind, ' ', state),
      h('td', { lang: 'zh-CN', text: summary(m) }),
      h('td', { text: m.kind === 'broadcast' ? 'everyone' : audienceText(m, dicts).replace(/^to /, '') }),
      recipients(m),
      h('td', { class: 'nowrap' }, h('a', { href: `#/sends/${m.msgid}`, text: 'Delivery →', 'aria-label': `Delivery of #${m.msgid}` })));
  }
  /** The recipients cell; a broadcast's listing does not carry them, its statistics do. */
  function recipients(m) {
    const td = h('td', { class: 'num', text: m.recipients === null ? '' : num(m.recipients) });
    if (m.recipients === null) {
      api.ok('msg/queryMassMsgStats', { msgid: m.msgid })
        .then((r) => {
          td.textContent = num(r.data.recipients);
        })
        .catch(() => {});
    }
    return td;
  }
  more.addEventListener('click', () => busy(more, () => page().catch((e) => {
    status.textContent = describe(e);
  })));
  try {
    await page();
  } catch (e) {
    status.textContent = describe(e);
  }
}
