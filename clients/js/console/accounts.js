// accounts.js: accounts by accid prefix (`user/search`), one account's area, type, block and
// token (`user/update`, `user/block`, `user/unblock`, `user/refreshToken`), a new account
// (`user/create`), and a CSV import through `user/batchCreate` with a progress bar and a
// report of the rows that failed.

import { h, field, check, select, num, screenTitle, describe, busy, confirmDialog, alertBox, download, progressBar, readFile, toast, paced } from './ui.js';
import { parseRecords, toCsv } from './csv.js';

const PAGE = 20;
const IMPORT_CHUNK = 500;
/** The columns an import reads, beside `accid` (those of `user/create`). */
const COLUMNS = ['name', 'token', 'areaid', 'enterptypeid', 'gender', 'icon', 'sign', 'email', 'birth', 'mobile', 'ex', 'props'];

/** `<select>` of the area tree (indented) or the types, with "none" first. */
function areaSelect(dicts, props) {
  return select([['', '(none)'], ...dicts.flat().map((a) => [a.areaid, `${'  '.repeat(a.depth)}${a.name} (${a.areaid})`])], props);
}
function typeSelect(dicts, props) {
  return select([['', '(none)'], ...dicts.types.map((t) => [t.enterptypeid, `${t.name} (${t.enterptypeid})`])], props);
}

export async function render(ctx) {
  const { api, view } = ctx;
  const dicts = await ctx.dicts();

  // --- search ------------------------------------------------------------------------
  const prefix = h('input', { type: 'search', name: 'prefix', spellcheck: 'false', autocomplete: 'off', placeholder: 'zhang' });
  const searchButton = h('button', { type: 'submit', text: 'Search' });
  const rows = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', text: 'More', hidden: true });
  const found = h('p', { class: 'hint', 'aria-live': 'polite' });
  const editor = h('section', { id: 'editor', 'aria-live': 'polite' });
  let cursor = '';
  let shown = 0;

  async function search(from) {
    const r = await api.ok('user/search', { prefix: prefix.value.trim(), cursor: from, limit: PAGE });
    if (!from) {
      rows.replaceChildren();
      shown = 0;
    }
    for (const a of r.data.accounts) rows.append(accountRow(a));
    shown += r.data.accounts.length;
    cursor = r.data.cursor;
    more.hidden = !cursor;
    found.textContent = shown ? `${num(shown)} accounts shown${cursor ? '; more below' : ''}.` : 'No account starts with that.';
  }
  function accountRow(a) {
    const edit = h('button', { type: 'button', class: 'secondary', text: 'Edit', 'aria-label': `Edit ${a.accid}` });
    edit.addEventListener('click', () => openEditor(a));
    return h('tr', { dataset: { accid: a.accid } },
      h('td', { class: 'mono', text: a.accid }),
      h('td', { text: a.name ?? '' }),
      h('td', { text: a.areaid ? dicts.path(a.areaid) : '' }),
      h('td', { text: a.enterptypeid ? dicts.typeName(a.enterptypeid) : '' }),
      h('td', {}, a.blocked ? h('span', { class: 'badge bad', text: 'blocked' }) : h('span', { class: 'badge good', text: 'active' })),
      h('td', {}, edit));
  }
  const searchForm = h('form', { class: 'row', role: 'search', 'aria-label': 'Accounts' },
    field('Account id starts with', prefix), h('div', { class: 'field' }, searchButton));
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(searchButton, () => search('').catch((e) => {
      found.textContent = describe(e);
    }));
  });
  more.addEventListener('click', () => busy(more, () => search(cursor)));

  // --- one account ---------------------------------------------------------------------
  function openEditor(a) {
    const area = areaSelect(dicts, { name: 'edit-areaid' });
    area.value = a.areaid ?? '';
    const type = typeSelect(dicts, { name: 'edit-enterptypeid' });
    type.value = a.enterptypeid ?? '';
    const save = h('button', { type: 'submit', text: 'Save area and type' });
    const kick = check('Also end their sessions now (kick)', { name: 'needkick', checked: true });
    const blockButton = h('button', { type: 'button', class: a.blocked ? 'secondary' : 'danger', text: a.blocked ? 'Unblock' : 'Block' });
    const refresh = h('button', { type: 'button', class: 'secondary', text: 'Refresh token…' });
    const token = h('output', { class: 'mono', id: 'new-token' });
    const error = alertBox();
    const form = h('form', { class: 'panel', dataset: { accid: a.accid } },
      h('h2', { tabindex: '-1', text: `Account ${a.accid}` }),
      h('div', { class: 'row' }, field('Area', area), field('Enterprise type', type)),
      h('div', { class: 'actions start' }, save),
      h('h3', { text: a.blocked ? 'Blocked' : 'Block' }),
      h('p', { class: 'hint', text: 'A blocked account cannot log in and is left out of targeted sends.' }),
      a.blocked ? null : kick.el,
      h('div', { class: 'actions start' }, blockButton),
      h('h3', { text: 'Token' }),
      h('p', { class: 'hint', text: 'A new token ends the sessions that use the old one.' }),
      h('div', { class: 'actions start' }, refresh), token,
      error.el);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.clear();
      busy(save, async () => {
        const r = await api.call('user/update', { accid: a.accid, areaid: area.value, enterptypeid: type.value });
        if (r.code !== 200) return error.show(describe(r));
        toast(`${a.accid} saved.`);
        return reload(a.accid);
      });
    });
    blockButton.addEventListener('click', () => busy(blockButton, async () => {
      const r = a.blocked
        ? await api.call('user/unblock', { accid: a.accid })
        : await api.call('user/block', { accid: a.accid, needkick: kick.box.checked });
      if (r.code !== 200) return error.show(describe(r));
      toast(`${a.accid} ${a.blocked ? 'unblocked' : 'blocked'}.`);
      return reload(a.accid);
    }));
    refresh.addEventListener('click', () => busy(refresh, async () => {
      if (!(await confirmDialog(`Give ${a.accid} a new token? Its sessions end.`, { confirmText: 'New token' }))) return;
      const r = await api.call('user/refreshToken', { accid: a.accid });
      if (r.code !== 200) return error.show(describe(r));
      token.textContent = `New token (shown once): ${r.info.token}`;
      return undefined;
    }));
    editor.replaceChildren(form);
    form.querySelector('h2').focus();
  }
  /** Shows an account again after a change, in the list and in the editor. */
  async function reload(accid) {
    const r = await api.ok('user/search', { prefix: accid, limit: 1 });
    const a = r.data.accounts.find((x) => x.accid === accid);
    if (!a) return;
    rows.querySelector(`tr[data-accid="${CSS.escape(accid)}"]`)?.replaceWith(accountRow(a));
    openEditor(a);
  }

  // --- create ----------------------------------------------------------------------------
  const nAccid = h('input', { name: 'new-accid', required: true, spellcheck: 'false', autocomplete: 'off', maxlength: 32 });
  const nName = h('input', { name: 'new-name', maxlength: 64 });
  const nToken = h('input', { name: 'new-token', spellcheck: 'false', autocomplete: 'off' });
  const nArea = areaSelect(dicts, { name: 'new-areaid' });
  const nType = typeSelect(dicts, { name: 'new-enterptypeid' });
  const create = h('button', { type: 'submit', text: 'Create' });
  const created = h('p', { id: 'created', 'aria-live': 'polite' });
  const createForm = h('form', { class: 'panel', id: 'create' },
    h('div', { class: 'row' }, field('Account id (accid)', nAccid, 'Letters, digits and _ @ . -; up to 32.'), field('Name', nName)),
    h('div', { class: 'row' }, field('Token', nToken, 'Empty: the server makes one.'), field('Area', nArea), field('Enterprise type', nType)),
    h('div', { class: 'actions start' }, create), created);
  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(create, async () => {
      const r = await api.call('user/create', {
        accid: nAccid.value.trim(), name: nName.value, token: nToken.value || undefined,
        areaid: nArea.value || undefined, enterptypeid: nType.value || undefined,
      });
      created.className = r.code === 200 ? 'ok' : 'error';
      created.textContent = r.code === 200
        ? `Created ${r.info.accid}. Token (shown once): ${r.info.token}`
        : describe(r);
      if (r.code === 200) createForm.reset();
    });
  });

  view.append(screenTitle('Accounts'), searchForm,
    h('div', { class: 'table-wrap' }, h('table', { id: 'accounts' },
      h('caption', { class: 'sr-only', text: 'Accounts found' }),
      h('thead', {}, h('tr', {}, ['accid', 'Name', 'Area', 'Type', 'Status', ''].map((t) => h('th', { scope: 'col', text: t })))),
      rows)),
    found, h('div', { class: 'actions start' }, more), editor,
    h('h2', { text: 'New account' }), createForm,
    h('h2', { text: 'Import accounts from CSV' }), importPanel(api));
  await search('').catch((e) => {
    found.textContent = describe(e);
  });
}

/** The CSV import: parse, then `user/batchCreate` a chunk at a time, with progress and a report. */
function importPanel(api) {
  const file = h('input', { type: 'file', name: 'users-file', accept: '.csv,text/csv' });
  const start = h('button', { type: 'button', text: 'Import', disabled: true });
  const progress = progressBar('Imported');
  progress.el.hidden = true;
  const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
  let records = [];
  file.addEventListener('change', async () => {
    result.replaceChildren();
    const f = file.files?.[0];
    records = f ? parseRecords(await readFile(f)).records : [];
    start.disabled = records.length === 0;
    result.append(h('p', { class: 'hint', text: f ? `${num(records.length)} rows read from ${f.name}.` : '' }));
  });
  start.addEventListener('click', () => busy(start, async () => {
    const failed = [];
    const tokens = [];
    const call = paced(api, 20);
    let created = 0;
    progress.el.hidden = false;
    progress.set(0, records.length);
    const rows = [];
    for (const { values, line } of records) {
      if (!values.accid) {
        failed.push([line, '', 414, 'no accid']);
        continue;
      }
      const user = { accid: values.accid };
      for (const c of COLUMNS) if (values[c]) user[c] = values[c];
      rows.push({ user, line, generated: !values.token });
    }
    for (let i = 0; i < rows.length; i += IMPORT_CHUNK) {
      const chunk = rows.slice(i, i + IMPORT_CHUNK);
      const r = await call('user/batchCreate', { users: chunk.map((x) => x.user) });
      if (r.code !== 200) {
        for (const x of chunk) failed.push([x.line, x.user.accid, r.code, r.desc ?? '']);
      } else {
        r.data.results.forEach((res, j) => {
          const x = chunk[j];
          if (res.code === 200) {
            created += 1;
            if (x.generated) tokens.push([res.accid, res.token]);
          } else {
            failed.push([x.line, x.user.accid, res.code, res.desc ?? '']);
          }
        });
      }
      progress.set(Math.min(i + chunk.length, rows.length) + (records.length - rows.length), records.length, `${num(failed.length)} failed`);
    }
    progress.set(records.length, records.length, `${num(created)} created, ${num(failed.length)} failed`);
    failed.sort((a, b) => a[0] - b[0]);
    const parts = [h('p', { class: failed.length ? 'error' : 'ok', text: `${num(created)} accounts created; ${num(failed.length)} rows failed.` })];
    if (tokens.length) {
      const b = h('button', { type: 'button', class: 'secondary', text: `Download the ${num(tokens.length)} generated tokens` });
      b.addEventListener('click', () => download('qunfa-tokens.csv', toCsv([['accid', 'token'], ...tokens])));
      parts.push(h('p', { class: 'hint', text: 'Rows without a token got one from the server; they are shown only now.' }), b);
    }
    if (failed.length) {
      const b = h('button', { type: 'button', class: 'secondary', text: 'Download the error report' });
      b.addEventListener('click', () => download('qunfa-import-errors.csv', toCsv([['line', 'accid', 'code', 'desc'], ...failed])));
      parts.push(h('div', { class: 'table-wrap' }, h('table', { id: 'import-errors' },
        h('caption', { text: 'Rows that failed' }),
        h('thead', {}, h('tr', {}, ['Line', 'accid', 'Code', 'Why'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, failed.slice(0, 500).map((f) => h('tr', {}, f.map((c) => h('td', { text: c })))))), b));
    }
    result.replaceChildren(...parts);
  }));
  return h('div', { class: 'panel' },
    h('p', { class: 'hint', text: 'A header row, then one account per row: accid, and any of name, token, areaid, enterptypeid, gender, icon, sign, email, birth, mobile, ex, props (as samples/users.csv). Existing accounts are reported, not changed.' }),
    field('CSV file', file), h('div', { class: 'actions start' }, start), progress.el, result);
}
