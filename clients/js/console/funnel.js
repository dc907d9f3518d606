// funnel.js: one send's page: what it was, its delivery funnel (recipients → delivered →
// read, from `msg/queryMassMsgStats`, refreshed while the page is open so it moves as clients
// ack and read), the read / unread / undelivered accounts a page at a time with a CSV export,
// and recall (`msg/recallMassMsg`).

import { h, num, percent, screenTitle, time, describe, busy, confirmDialog, download, alertBox } from './ui.js';
import { toCsv } from './csv.js';
import { renderBody } from './compose.js';
import { audienceText } from './overview.js';

const REFRESH_MS = 1500;
const LIST_PAGE = 50;
const EXPORT_PAGE = 1000;

/** The message with this msgid: a targeted send, a broadcast, or null (another kind). */
async function find(api, msgid) {
  const mass = await api.ok('history/queryMassMsgs', { cursor: msgid + 1, limit: 1 });
  if (mass.msgs[0]?.msgid === msgid) return { ...mass.msgs[0], kind: 'targeted' };
  const b = await api.call('history/queryBroadcastMsgById', { broadcastId: msgid });
  if (b.code === 200) {
    return { msgid, kind: 'broadcast', timetag: b.msg.createTime, body: b.msg.body, type: 100, markRead: false, from: b.msg.from };
  }
  return null;
}

function stage(cls, label) {
  const bar = h('div', { class: 'bar' });
  const figure = h('span', { class: 'figure' });
  const el = h('li', { class: cls }, h('span', { class: 'stage', text: label }), h('div', { class: 'track', 'aria-hidden': 'true' }, bar), figure);
  return {
    el,
    set(n, of, rateText) {
      bar.style.width = `${of ? Math.min(100, (n / of) * 100) : 0}%`;
      figure.textContent = rateText ? `${num(n)} · ${rateText}` : num(n);
    },
  };
}

export async function renderFunnelPage(ctx, msgid) {
  const { api, view } = ctx;
  if (!Number.isSafeInteger(msgid) || msgid <= 0) {
    view.append(screenTitle('Send'), h('p', { class: 'error', role: 'alert', text: 'No such send.' }));
    return undefined;
  }
  const [m, dicts] = await Promise.all([find(api, msgid), ctx.dicts()]);
  const title = screenTitle(`Send #${msgid}`);
  const info = h('dl', { class: 'answer panel' });
  const error = alertBox();
  const recalled = h('span', { class: 'badge bad', text: 'recalled', hidden: !m?.recalled });
  if (m) {
    info.append(
      h('dt', { text: 'Sent' }), h('dd', { text: time(m.timetag) }),
      h('dt', { text: 'Kind' }), h('dd', {}, m.kind, ' ', recalled),
      h('dt', { text: 'Audience' }), h('dd', { text: m.kind === 'broadcast' ? 'everyone' : audienceText(m, dicts).replace(/^to /, '') }),
      h('dt', { text: 'Read receipts' }), h('dd', { text: m.markRead ? 'asked for (markRead)' : 'not asked for' }),
      h('dt', { text: 'Message' }), h('dd', {}, renderBody(m.type, m.body)));
  }

  const sent = stage('sent', 'Recipients');
  const delivered = stage('delivered', 'Delivered');
  const read = stage('read', 'Read');
  const funnel = h('ol', { class: 'funnel', id: 'funnel', 'aria-label': 'Delivery funnel' }, sent.el, delivered.el, read.el);
  const stamp = h('p', { class: 'hint' });
  let stats = null;
  async function refresh() {
    const r = await api.call('msg/queryMassMsgStats', { msgid });
    if (r.code !== 200) {
      error.show(describe(r));
      return;
    }
    stats = r.data;
    sent.set(stats.recipients, stats.recipients);
    delivered.set(stats.delivered, stats.recipients, percent(stats.delivered, stats.recipients));
    read.set(stats.read, stats.recipients, `${percent(stats.read, stats.delivered)} of delivered`);
    Object.assign(funnel.dataset, { recipients: stats.recipients, delivered: stats.delivered, read: stats.read });
    stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes while this page is open.`;
  }

  // --- who: read / unread / undelivered ------------------------------------------------
  const lists = [['read', 'Read'], ['unread', 'Unread'], ['undelivered', 'Undelivered']];
  let list = 'undelivered';
  let cursor = -1;
  const tabs = lists.map(([v, t]) => h('button', { type: 'button', class: 'secondary', dataset: { list: v }, 'aria-pressed': String(v === list), text: t }));
  const rows = h('tbody');
  const pageInfo = h('p', { class: 'hint', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary', text: '← First page' });
  const next = h('button', { type: 'button', class: 'secondary', text: 'Next page →' });
  const exportButton = h('button', { type: 'button', class: 'secondary', id: 'export', text: 'Export as CSV' });
  async function showList(from) {
    const r = await api.ok('msg/queryMassMsgStats', { msgid, list, cursor: from, limit: LIST_PAGE });
    rows.replaceChildren(...r.data.accids.map((a) => h('tr', {}, h('td', { text: a }))));
    cursor = r.data.cursor;
    next.disabled = cursor === -1;
    prev.disabled = from === -1;
    const what = lists.find((l) => l[0] === list)[1].toLowerCase();
    pageInfo.textContent = r.data.accids.length ? `${num(r.data.accids.length)} ${what} accounts on this page.` : `No ${what} accounts.`;
  }
  for (const t of tabs) {
    t.addEventListener('click', () => {
      list = t.dataset.list;
      for (const o of tabs) o.setAttribute('aria-pressed', String(o === t));
      showList(-1).catch((e) => error.show(describe(e)));
    });
  }
  next.addEventListener('click', () => busy(next, async () => {
    await showList(cursor);
  }));
  prev.addEventListener('click', () => busy(prev, () => showList(-1)));
  exportButton.addEventListener('click', () => busy(exportButton, async () => {
    const all = [];
    for (let from = -1; ;) {
      const r = await api.ok('msg/queryMassMsgStats', { msgid, list, cursor: from, limit: EXPORT_PAGE });
      all.push(...r.data.accids);
      if (r.data.cursor === -1) break;
      from = r.data.cursor;
    }
    download(`qunfa-send-${msgid}-${list}.csv`, toCsv([['accid'], ...all.map((a) => [a])]));
  }));

  // --- recall --------------------------------------------------------------------------
  const recall = h('button', { type: 'button', class: 'danger', id: 'recall', text: 'Recall…', disabled: !m || m.recalled });
  recall.addEventListener('click', async () => {
    recall.disabled = true;
    try {
      if (!(await confirmDialog(`Recall send #${msgid}? Everyone it reached is told to remove it.`, { confirmText: 'Recall', danger: true }))) return;
      let r = await api.call('msg/recallMassMsg', { msgid });
      if (r.code === 508 && await confirmDialog(`${describe(r)} Recall it anyway?`, { confirmText: 'Recall anyway', danger: true })) {
        r = await api.call('msg/recallMassMsg', { msgid, ignoreTime: 1 });
      }
      if (r.code === 200) {
        recalled.hidden = false;
        error.clear();
        view.dataset.recalled = 'true';
      } else if (r.code !== 508) {
        error.show(describe(r));
      }
    } catch (e) {
      error.show(describe(e));
    } finally {
      recall.disabled = !recalled.hidden;
    }
  });

  view.append(...[title, m ? null : h('p', { class: 'hint', text: 'Not a targeted send or broadcast; its statistics follow.' }), info, error.el,
    h('h2', { text: 'Delivery' }), funnel, stamp,
    h('h2', { text: 'Who' }),
    m && !m.markRead ? h('p', { class: 'hint', text: 'Read receipts were not asked for: nobody counts as read.' }) : null,
    h('div', { class: 'tabs', role: 'group', 'aria-label': 'List' }, tabs),
    h('div', { class: 'table-wrap' }, h('table', { id: 'who' }, h('caption', { class: 'sr-only', text: 'Accounts' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'accid' }))), rows)),
    pageInfo,
    h('div', { class: 'actions start' }, prev, next, exportButton),
    h('h2', { text: 'Recall' }),
    h('p', { class: 'hint', text: 'Within the recall window (messages.recall_window_secs, 120 s by default); past it the console asks before ignoring it.' }),
    h('div', { class: 'actions start' }, recall)].filter(Boolean));

  await refresh();
  await showList(-1).catch((e) => error.show(describe(e)));
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') refresh().catch(() => {});
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
