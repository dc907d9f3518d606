// overview.js: the app at a glance (`msg/queryOverview`): accounts, sessions on this node,
// today's sends and deliveries, the read rate; and the latest targeted sends.

import { h, num, percent, screenTitle, time, describe, busy } from './ui.js';
import { summary } from './sends.js';

/** Local midnight: "today" is the operator's day, not the server's. */
function midnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function card(label, value, note, key) {
  return h('div', { class: 'card', dataset: { key } },
    h('dt', { text: label }),
    h('dd', {}, h('span', { class: 'value', text: value }), note ? h('span', { class: 'note', text: note }) : null));
}

export async function render(ctx) {
  const { api, view } = ctx;
  const cards = h('dl', { class: 'cards', 'aria-label': 'Today' });
  const latest = h('div');
  const refresh = h('button', { type: 'button', class: 'secondary', text: 'Refresh' });
  const stamp = h('p', { class: 'hint' });
  view.append(screenTitle('Overview'), cards, h('div', { class: 'actions start' }, refresh,
    h('a', { href: '#/compose', class: 'button-link', text: 'Compose a send →' })), stamp,
  h('h2', { text: 'Latest targeted sends' }), latest);

  async function load() {
    const [o, mass, dicts] = await Promise.all([
      api.ok('msg/queryOverview', { since: midnight() }),
      api.ok('history/queryMassMsgs', { limit: 5 }),
      ctx.dicts(),
    ]);
    const d = o.data;
    const s = d.sends;
    const mr = s.markRead;
    cards.replaceChildren(
      card('Accounts', num(d.accounts), d.blocked ? `${num(d.blocked)} blocked` : 'none blocked', 'accounts'),
      card('Online now', num(d.online.sessions), `sessions on this node (${num(d.online.accounts)} accounts)`, 'online'),
      card('Sends today', num(s.sends), `targeted and broadcast${d.truncated ? ', newest 1,000 counted' : ''}`, 'sends'),
      card('Deliveries today', num(s.delivered), `of ${num(s.recipients)} recipients (${percent(s.delivered, s.recipients)})`, 'delivered'),
      card('Read rate', percent(mr.read, mr.delivered), mr.sends
        ? `${num(mr.read)} read of ${num(mr.delivered)} delivered, over ${num(mr.sends)} sends with read receipts`
        : 'no send today asked for read receipts', 'readrate'),
    );
    stamp.textContent = `Since ${time(d.since)} · updated ${new Date().toLocaleTimeString()}. Online counts only this node's sessions.`;
    const msgs = mass.msgs;
    latest.replaceChildren(msgs.length === 0
      ? h('p', { class: 'muted', text: 'No targeted sends yet.' })
      : h('ul', { class: 'latest' }, msgs.map((m) => h('li', {},
        h('a', { href: `#/sends/${m.msgid}`, text: `#${m.msgid}` }), ' ',
        h('span', { text: `${time(m.timetag)} · ${summary(m)} · ${num(m.recipients)} recipients` }),
        ' ', h('span', { class: 'muted', text: audienceText(m, dicts) })))));
  }

  refresh.addEventListener('click', () => busy(refresh, () => load().catch((e) => stamp.replaceChildren(h('span', { class: 'error', role: 'alert', text: describe(e) })))));
  try {
    await load();
  } catch (e) {
    stamp.replaceChildren(h('span', { class: 'error', role: 'alert', text: describe(e) }));
  }
}

/** "to 济南市, 食品制造" / "to everyone" / "to 3 listed accounts". */
export function audienceText(m, dicts) {
  const sel = m.selection ?? {};
  const parts = [];
  if (sel.areaid?.length) parts.push(sel.areaid.map((a) => dicts.areaName(a)).join(', '));
  if (sel.enterptypeid?.length) parts.push(sel.enterptypeid.map((t) => dicts.typeName(t)).join(', '));
  const listed = sel.accids?.length ?? sel.accidCount;
  if (listed) parts.push(`${num(listed)} listed account${listed === 1 ? '' : 's'}`);
  return parts.length ? `to ${parts.join(' · ')}` : 'to everyone';
}
