// audience.js: who a targeted send reaches, as the compose screen builds it. Each audience
// source renders its own controls and contributes parameters of `msg/sendMsgToAll`; the
// server intersects them (docs/api.md: list ∩ areas ∩ types). Areas, enterprise types and an
// explicit list are built in; teams, once they exist, add a source with
// `registerAudienceSource`.

import { h, field, check, num, uid, readFile } from './ui.js';
import { accidsOfCsv, splitList } from './csv.js';

/**
 * @typedef {object} AudienceSource
 * @property {string} id
 * @property {(env: {dicts: any, counts: any, changed: () => void}) => {
 *   el: HTMLElement, params: () => Record<string, unknown>, describe: () => string|null, reset: () => void
 * }} create
 */

/** @type {AudienceSource[]} */
export const audienceSources = [
  { id: 'areas', create: areas },
  { id: 'types', create: types },
  { id: 'list', create: list },
];

export function registerAudienceSource(source) {
  audienceSources.push(source);
}

/** The area tree with a checkbox and an account count per node, and a filter. */
function areas({ dicts, counts, changed }) {
  const chosen = new Set();
  const filter = h('input', { type: 'search', name: 'area-filter', placeholder: '济南 or 370100', autocomplete: 'off' });
  const tree = h('ul', { class: 'tree', id: uid('tree'), 'aria-label': 'Areas' });
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const boxes = new Map();

  const node = (a) => {
    const n = counts.areas[a.areaid] ?? 0;
    const { box, el } = check(h('span', {},
      h('span', { class: 'name', text: a.name }), ' ',
      h('span', { class: 'id', text: a.areaid }), ' ',
      h('span', { class: 'count', text: `(${num(n)})` })), { value: a.areaid, name: 'areaid', dataset: { areaid: a.areaid } });
    box.setAttribute('aria-label', `${a.name} ${a.areaid}, ${num(n)} accounts`);
    box.addEventListener('change', () => {
      if (box.checked) chosen.add(a.areaid);
      else chosen.delete(a.areaid);
      showChips();
      changed();
    });
    boxes.set(a.areaid, box);
    const kids = dicts.children(a.areaid);
    return h('li', { dataset: { areaid: a.areaid } }, el, kids.length ? h('ul', {}, kids.map(node)) : null);
  };
  tree.append(...dicts.children('').map(node));

  function showChips() {
    chips.replaceChildren(...[...chosen].map((id) => h('span', { class: 'chip', text: dicts.path(id) })));
  }

  // Shows the areas whose name or id contains the text, with their ancestors (to place them)
  // and their sub-areas (a city found shows its districts).
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    const hit = (li) => {
      const a = li.dataset.areaid;
      return !q || a.toLowerCase().includes(q) || dicts.areaName(a).toLowerCase().includes(q);
    };
    for (const li of tree.querySelectorAll('li')) li.dataset.hit = hit(li) ? '1' : '';
    for (const li of tree.querySelectorAll('li')) {
      const under = li.parentElement?.closest('li[data-hit="1"]') !== null;
      li.hidden = !(li.dataset.hit === '1' || under || li.querySelector('li[data-hit="1"]') !== null);
    }
  });

  const el = h('fieldset', { class: 'source', dataset: { source: 'areas' } },
    h('legend', { text: 'Areas' }),
    h('p', { class: 'hint', text: 'An area includes its sub-areas. None chosen: every area. Counts are accounts a send reaches (blocked ones left out).' }),
    field('Find an area', filter),
    dicts.areas.length ? tree : h('p', { class: 'muted', text: 'No areas yet (Dictionaries).' }),
    chips);
  return {
    el,
    params: () => (chosen.size ? { areaid: [...chosen].join(',') } : {}),
    describe: () => (chosen.size ? [...chosen].map((id) => dicts.areaName(id)).join(', ') : null),
    reset() {
      chosen.clear();
      for (const b of boxes.values()) b.checked = false;
      showChips();
    },
  };
}

/** Enterprise types, several allowed (any of them). */
function types({ dicts, counts, changed }) {
  const chosen = new Set();
  const boxes = dicts.types.map((t) => {
    const n = counts.enterptypes[t.enterptypeid] ?? 0;
    const c = check(`${t.name} (${num(n)})`, { value: t.enterptypeid, name: 'enterptypeid' });
    c.box.addEventListener('change', () => {
      if (c.box.checked) chosen.add(t.enterptypeid);
      else chosen.delete(t.enterptypeid);
      changed();
    });
    return c;
  });
  const el = h('fieldset', { class: 'source', dataset: { source: 'types' } },
    h('legend', { text: 'Enterprise types' }),
    h('p', { class: 'hint', text: 'Any of the chosen types. None chosen: every type.' }),
    boxes.length ? h('div', { class: 'checks' }, boxes.map((b) => b.el)) : h('p', { class: 'muted', text: 'No enterprise types yet.' }));
  return {
    el,
    params: () => (chosen.size ? { enterptypeid: [...chosen].join(',') } : {}),
    describe: () => (chosen.size ? [...chosen].map((id) => dicts.typeName(id)).join(', ') : null),
    reset() {
      chosen.clear();
      for (const b of boxes) b.box.checked = false;
    },
  };
}

/** Explicit accounts, pasted or read from a CSV file (its `accid` column or first column). */
function list({ changed }) {
  let accids = [];
  const text = h('textarea', { name: 'accids', rows: 3, spellcheck: 'false', placeholder: 'zhangsan, lisi' });
  const file = h('input', { type: 'file', name: 'accids-file', accept: '.csv,.txt,text/csv,text/plain' });
  const info = h('p', { class: 'hint', 'aria-live': 'polite' });
  const update = () => {
    accids = splitList(text.value);
    info.textContent = accids.length ? `${num(accids.length)} accounts listed.` : 'No list: everyone in the chosen areas and types.';
    changed();
  };
  text.addEventListener('input', update);
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (!f) return;
    text.value = accidsOfCsv(await readFile(f)).join('\n');
    update();
  });
  update();
  const el = h('fieldset', { class: 'source', dataset: { source: 'list' } },
    h('legend', { text: 'Only these accounts' }),
    field('Account ids (accid), separated by commas, spaces or lines', text),
    field('…or a CSV file', file, 'The accid column, or the first column.'),
    info);
  return {
    el,
    params: () => (accids.length ? { toAccids: accids } : {}),
    describe: () => (accids.length ? `${num(accids.length)} listed accounts` : null),
    reset() {
      text.value = '';
      file.value = '';
      accids = [];
      info.textContent = '';
    },
  };
}
