// dicts.js: the dictionaries targeted sends select on. The area tree (create, rename, move,
// delete, with the server's "in use" refusal shown as it comes), the enterprise types, and a
// CSV import of either (`areaid,name,parentid` / `enterptypeid,name`, as samples/*.csv), which
// creates each row or updates it when it exists.

import { h, field, select, num, screenTitle, describe, busy, confirmDialog, alertBox, progressBar, readFile, toast, paced } from './ui.js';
import { parseRecords } from './csv.js';

export async function render(ctx) {
  const { api, view } = ctx;
  const error = alertBox();
  error.el.id = 'dict-error';
  error.el.tabIndex = -1;
  const areaBox = h('div', { id: 'areas' });
  const typeBox = h('div', { id: 'types' });
  view.append(screenTitle('Dictionaries'), error.el,
    h('h2', { text: 'Areas' }),
    h('p', { class: 'hint', text: 'A send to an area reaches the accounts of its sub-areas too. Counts are accounts a send reaches now.' }),
    areaBox,
    h('h2', { text: 'Enterprise types' }), typeBox,
    h('h2', { text: 'Import from CSV' }), importPanel(ctx, () => draw()));

  /** Runs a dictionary call; a refusal is shown in words; answers whether it worked. */
  async function change(endpoint, params, done) {
    const r = await api.call(endpoint, params).catch((e) => e);
    if (r.code !== 200) {
      error.show(describe(r));
      error.el.focus();
      return false;
    }
    error.clear();
    toast(done);
    await draw();
    return true;
  }

  async function draw() {
    const [dicts, counts] = await Promise.all([ctx.dicts({ fresh: true }), api.ok('dic/countAccounts').then((r) => r.data)]);
    drawAreas(dicts, counts);
    drawTypes(dicts, counts);
  }

  function inlineForm(fields, submitText, onSubmit) {
    const submit = h('button', { type: 'submit', text: submitText });
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const form = h('form', { class: 'inline-form' }, fields, submit, cancel);
    cancel.addEventListener('click', () => form.remove());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        if (await onSubmit()) form.remove();
      });
    });
    return form;
  }

  function drawAreas(dicts, counts) {
    const node = (a) => {
      const li = h('li', { dataset: { areaid: a.areaid } });
      const slot = h('div');
      const tool = (text, label, open) => {
        const b = h('button', { type: 'button', class: 'link', text, 'aria-label': `${label} ${a.name}` });
        b.addEventListener('click', () => {
          const f = open();
          slot.replaceChildren(f);
          f.querySelector('input, select')?.focus();
        });
        return b;
      };
      const rename = tool('Rename', 'Rename', () => {
        const name = h('input', { name: 'name', value: a.name, required: true, maxlength: 64 });
        return inlineForm([field('New name', name)], 'Rename', () => change('dic/updateArea', { areaid: a.areaid, name: name.value.trim() }, `Renamed to ${name.value.trim()}.`));
      });
      const move = tool('Move', 'Move', () => {
        // Not under itself or its own sub-areas: the server refuses cycles, the list does not offer them.
        const below = new Set();
        const walk = (id) => {
          below.add(id);
          for (const c of dicts.children(id)) walk(c.areaid);
        };
        walk(a.areaid);
        const parent = select([['', '(top level)'], ...dicts.flat().filter((x) => !below.has(x.areaid))
          .map((x) => [x.areaid, `${'  '.repeat(x.depth)}${x.name} (${x.areaid})`])], { name: 'parentid' });
        parent.value = a.parentid ?? '';
        return inlineForm([field('New parent', parent)], 'Move', () => change('dic/updateArea', { areaid: a.areaid, parentid: parent.value }, `Moved ${a.name}.`));
      });
      const add = tool('Add sub-area', 'Add a sub-area to', () => {
        const id = h('input', { name: 'areaid', required: true, maxlength: 64, spellcheck: 'false' });
        const name = h('input', { name: 'name', required: true, maxlength: 64 });
        return inlineForm([field('Area id', id), field('Name', name)], 'Add', () => change('dic/createArea', { areaid: id.value.trim(), name: name.value.trim(), parentid: a.areaid }, `Added ${name.value.trim()}.`));
      });
      const del = h('button', { type: 'button', class: 'link', text: 'Delete', 'aria-label': `Delete ${a.name}` });
      del.addEventListener('click', async () => {
        if (await confirmDialog(`Delete the area ${a.name} (${a.areaid})?`, { confirmText: 'Delete', danger: true })) {
          await change('dic/deleteArea', { areaid: a.areaid }, `Deleted ${a.name}.`);
        }
      });
      const kids = dicts.children(a.areaid);
      li.append(...[
        h('div', { class: 'node' },
          h('span', { class: 'name', lang: 'zh-CN', text: a.name }),
          h('span', { class: 'id muted', text: a.areaid }),
          h('span', { class: 'count muted', text: `${num(counts.areas[a.areaid] ?? 0)} accounts` }),
          h('span', { class: 'tools' }, rename, move, add, del)),
        slot,
        kids.length ? h('ul', {}, kids.map(node)) : null].filter(Boolean));
      return li;
    };
    const newId = h('input', { name: 'root-areaid', required: true, maxlength: 64, spellcheck: 'false' });
    const newName = h('input', { name: 'root-name', required: true, maxlength: 64 });
    const create = h('button', { type: 'submit', text: 'Create' });
    const form = h('form', { class: 'inline-form', id: 'new-area', 'aria-label': 'New top-level area' },
      field('New top-level area id', newId), field('Name', newName), create);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(create, () => change('dic/createArea', { areaid: newId.value.trim(), name: newName.value.trim() }, `Added ${newName.value.trim()}.`));
    });
    const roots = dicts.children('');
    areaBox.replaceChildren(
      roots.length ? h('ul', { class: 'dict-tree panel', 'aria-label': 'Area tree' }, roots.map(node)) : h('p', { class: 'muted', text: 'No areas yet.' }),
      form);
  }

  function drawTypes(dicts, counts) {
    const rows = dicts.types.map((t) => {
      const slot = h('div');
      const rename = h('button', { type: 'button', class: 'link', text: 'Rename', 'aria-label': `Rename ${t.name}` });
      rename.addEventListener('click', () => {
        const name = h('input', { name: 'name', value: t.name, required: true, maxlength: 64 });
        slot.replaceChildren(inlineForm([field('New name', name)], 'Rename', () => change('dic/updateEnterptype', { enterptypeid: t.enterptypeid, name: name.value.trim() }, `Renamed to ${name.value.trim()}.`)));
        name.focus();
      });
      const del = h('button', { type: 'button', class: 'link', text: 'Delete', 'aria-label': `Delete ${t.name}` });
      del.addEventListener('click', async () => {
        if (await confirmDialog(`Delete the enterprise type ${t.name} (${t.enterptypeid})?`, { confirmText: 'Delete', danger: true })) {
          await change('dic/deleteEnterptype', { enterptypeid: t.enterptypeid }, `Deleted ${t.name}.`);
        }
      });
      return h('tr', { dataset: { enterptypeid: t.enterptypeid } },
        h('td', { class: 'mono', text: t.enterptypeid }), h('td', {}, h('span', { lang: 'zh-CN', text: t.name }), slot),
        h('td', { class: 'num', text: num(counts.enterptypes[t.enterptypeid] ?? 0) }), h('td', {}, rename, ' ', del));
    });
    const newId = h('input', { name: 'type-id', required: true, maxlength: 64, spellcheck: 'false' });
    const newName = h('input', { name: 'type-name', required: true, maxlength: 64 });
    const create = h('button', { type: 'submit', text: 'Create' });
    const form = h('form', { class: 'inline-form', id: 'new-type', 'aria-label': 'New enterprise type' },
      field('New type id', newId), field('Name', newName), create);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(create, () => change('dic/createEnterptype', { enterptypeid: newId.value.trim(), name: newName.value.trim() }, `Added ${newName.value.trim()}.`));
    });
    typeBox.replaceChildren(
      h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', { class: 'sr-only', text: 'Enterprise types' }),
        h('thead', {}, h('tr', {}, ['id', 'Name', 'Accounts', ''].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, rows))),
      form);
  }

  await draw();
}

/** Areas sorted so that every parent comes before its children (parents outside the file last). */
export function parentsFirst(rows) {
  const byId = new Map(rows.map((r) => [r.values.areaid, r]));
  const out = [];
  const placed = new Set();
  const place = (r, depth = 0) => {
    if (placed.has(r.values.areaid) || depth > rows.length) return;
    const p = byId.get(r.values.parentid);
    if (p && p !== r) place(p, depth + 1);
    placed.add(r.values.areaid);
    out.push(r);
  };
  for (const r of rows) place(r);
  return out;
}

function importPanel(ctx, redraw) {
  const { api } = ctx;
  const kind = select([['areas', 'Areas (areaid,name,parentid)'], ['types', 'Enterprise types (enterptypeid,name)']], { name: 'dict-kind' });
  const file = h('input', { type: 'file', name: 'dict-file', accept: '.csv,text/csv' });
  const start = h('button', { type: 'button', text: 'Import' });
  const progress = progressBar('Imported');
  progress.el.hidden = true;
  const result = h('div', { id: 'dict-import-result', 'aria-live': 'polite' });
  start.addEventListener('click', () => busy(start, async () => {
    const f = file.files?.[0];
    if (!f) {
      result.replaceChildren(h('p', { class: 'error', text: 'Choose a CSV file first.' }));
      return;
    }
    const areas = kind.value === 'areas';
    const { records } = parseRecords(await readFile(f));
    const rows = areas ? parentsFirst(records) : records;
    const idKey = areas ? 'areaid' : 'enterptypeid';
    const noun = areas ? 'Area' : 'Enterptype';
    const failed = [];
    let done = 0;
    const call = paced(api);
    progress.el.hidden = false;
    for (const { values, line } of rows) {
      const params = { [idKey]: values[idKey] ?? '', name: values.name ?? '' };
      if (areas) params.parentid = values.parentid ?? '';
      let r = await call(`dic/create${noun}`, params);
      if (r.code === 414 && /already exists$/.test(r.desc ?? '')) r = await call(`dic/update${noun}`, params);
      if (r.code !== 200) failed.push([line, params[idKey], r.code, r.desc ?? '']);
      done += 1;
      progress.set(done, rows.length, `${num(failed.length)} failed`);
    }
    failed.sort((a, b) => a[0] - b[0]);
    result.replaceChildren(...[
      h('p', { class: failed.length ? 'error' : 'ok', text: `${num(rows.length - failed.length)} rows imported; ${num(failed.length)} failed.` }),
      failed.length ? h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', { text: 'Rows that failed' }),
        h('thead', {}, h('tr', {}, ['Line', 'id', 'Code', 'Why'].map((x) => h('th', { scope: 'col', text: x })))),
        h('tbody', {}, failed.map((x) => h('tr', {}, x.map((c) => h('td', { text: c }))))))) : null].filter(Boolean));
    await redraw();
  }));
  return h('div', { class: 'panel' },
    h('div', { class: 'row' }, field('What the file holds', kind), field('CSV file', file)),
    h('div', { class: 'actions start' }, start), progress.el, result);
}
