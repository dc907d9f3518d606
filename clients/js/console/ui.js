// ui.js: the console's small DOM toolkit. Every value from the server reaches the page as
// text (textContent, attributes), never as HTML.

/**
 * Builds an element. `props`: `class`, `text`, `on` ({event: handler}), `dataset`, and any other
 * key as an attribute (`false`/`null`/`undefined` leave it out, `true` sets it empty).
 * Children: nodes, strings, numbers, arrays of them; `null`/`false` are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') for (const [ev, f] of Object.entries(v)) el.addEventListener(ev, f);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

let ids = 0;
/** A fresh element id, for label/aria wiring. */
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled control: `<div class="field"><label for>…</label>control hint</div>`. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const parts = [h('label', { for: control.id, text: label }), control];
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('p', { class: 'hint', id: hintId, text: hint }));
  }
  return h('div', { class: 'field' }, parts);
}

/** A checkbox with its label after it. */
export function check(label, props = {}) {
  const box = h('input', { type: 'checkbox', ...props });
  return { box, el: h('label', { class: 'check' }, box, ' ', label) };
}

/** `<select>` of `[value, text]` pairs. */
export function select(options, props = {}) {
  return h('select', props, options.map(([v, t]) => h('option', { value: v, text: t })));
}

/** A `<p role="alert">` that shows a refusal or clears itself. */
export function alertBox() {
  const el = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    el,
    show(text) {
      el.textContent = text;
      el.hidden = !text;
    },
    clear() {
      el.textContent = '';
      el.hidden = true;
    },
  };
}

/** What a refused answer (or a thrown error) means, in words. */
export function describe(e) {
  const code = e?.code;
  const desc = e?.desc ?? '';
  if (code === undefined) {
    if (e instanceof TypeError) return `The server did not answer (${e.message}). Check the address and your connection.`;
    return String(e?.message ?? e);
  }
  if (code === 0) return `The server's answer was not qunfa's (${desc}). Is a proxy in the way?`;
  if (code === 414 && desc === 'appkey') return 'No app has this AppKey.';
  if (code === 414 && desc === 'checksum') return 'The AppSecret is wrong for this AppKey.';
  if (code === 414 && desc === 'CurTime is expired') return "This computer's clock is more than 5 minutes away from the server's.";
  if (code === 403) return 'This app is disabled. An operator can enable it again with `qunfa app enable`.';
  if (code === 416) return `Too many requests (${desc}). Wait a few seconds and try again.`;
  if (code === 431) return 'The server saw this exact request already; try again.';
  if (code === 417) return `Refused because it is still in use: ${desc}.`;
  if (code === 508) return `Too late: ${desc}.`;
  if (code === 404) return `Not found: ${desc}.`;
  if (code === 500) return 'The server failed (its log says why). Try again later.';
  return `Refused (${code}): ${desc}.`;
}

/** Shows a short notice in the live region. */
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast ${kind}`, text });
  box.append(t);
  // A few at a time: a burst of edits must not cover the screen.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3000);
}

/**
 * A modal question. Answers true when confirmed. `extra` is appended to the body (e.g. a
 * checkbox the caller reads afterwards).
 */
export function confirmDialog(message, { confirmText = 'OK', cancelText = 'Cancel', danger = false, extra } = {}) {
  return new Promise((resolve) => {
    const msgId = uid('dlg');
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : '', text: confirmText });
    const cancel = h('button', { type: 'submit', value: 'cancel', class: 'secondary', text: cancelText });
    const dlg = h('dialog', { 'aria-labelledby': msgId, class: 'dialog' },
      h('form', { method: 'dialog' },
        h('p', { id: msgId, class: 'dialog-text', text: message }),
        extra ?? null,
        h('div', { class: 'actions' }, cancel, ok)));
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    dlg.showModal();
    ok.focus();
  });
}

/** Runs `task` with `button` disabled (and marked busy) meanwhile. */
export async function busy(button, task) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

const numberFormat = new Intl.NumberFormat();
export const num = (n) => numberFormat.format(n ?? 0);

/** `part / whole` as a percentage with one decimal, or an en dash when `whole` is 0. */
export function percent(part, whole) {
  if (!whole) return '–';
  return `${(Math.round((part / whole) * 1000) / 10).toFixed(1)}%`;
}

export function time(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** Starts a download of `text` as a file. */
export function download(filename, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A heading for a screen, focusable so navigation can move focus to it. */
export function screenTitle(text) {
  return h('h1', { tabindex: '-1', class: 'screen-title', text });
}

/** A table with a caption; `rows` are arrays of cells (nodes or text). */
export function table(caption, headers, rows, { captionHidden = false } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: captionHidden ? 'sr-only' : '', text: caption }),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

/** A progress bar with a text beside it, for imports. */
export function progressBar(label) {
  const id = uid('prog');
  const bar = h('progress', { id, max: 1, value: 0 });
  const text = h('span', { class: 'progress-text', 'aria-live': 'polite' });
  const el = h('div', { class: 'progress' }, h('label', { for: id, text: label }), bar, text);
  return {
    el,
    set(done, total, note = '') {
      bar.max = Math.max(1, total);
      bar.value = done;
      text.textContent = `${num(done)} / ${num(total)}${note ? ` · ${note}` : ''}`;
    },
  };
}

/** Calls `f` at most once per `ms`, with the last arguments. */
export function debounce(f, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => f(...args), ms);
  };
}

/** Reads a chosen file as text (UTF-8). */
export function readFile(file) {
  return file.text();
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * A caller for long runs of calls (imports): at most `perSecond` calls a second, half the
 * server's default limit per group, and a call refused with 416 (over the limit) is retried
 * after the penalty rather than failing its row.
 */
export function paced(api, perSecond = 50) {
  let next = 0;
  return async (endpoint, params) => {
    for (let attempt = 0; ; attempt += 1) {
      const wait = next - Date.now();
      next = Math.max(next, Date.now()) + 1000 / perSecond;
      if (wait > 0) await sleep(wait);
      const r = await api.call(endpoint, params);
      if (r.code !== 416 || attempt >= 6) return r;
      await sleep(Math.min(15_000, 1000 * 2 ** attempt));
    }
  };
}
