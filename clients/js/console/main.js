// main.js: the console's shell: sign-in, navigation between screens (`#/overview`,
// `#/sends/123`, …), and what every screen shares (the signed API client, the dictionaries).
//
// Screens are modules listed in SCREENS and loaded when first shown; each exports
// `render(ctx, args)` (and may answer a cleanup function). A later feature (teams, callbacks)
// adds its screen with `registerScreen` and its audience source in compose.js.

import { h, describe, screenTitle, alertBox, field, check, busy } from './ui.js';
import * as session from './session.js';

/** @type {{id: string, title: string, module: string}[]} */
const SCREENS = [
  { id: 'overview', title: 'Overview', module: './overview.js' },
  { id: 'compose', title: 'Compose', module: './compose.js' },
  { id: 'sends', title: 'Sends', module: './sends.js' },
  { id: 'accounts', title: 'Accounts', module: './accounts.js' },
  { id: 'dicts', title: 'Dictionaries', module: './dicts.js' },
  { id: 'words', title: 'Filter and callbacks', module: './words.js' },
];

/** Adds a screen to the navigation (before the first render). */
export function registerScreen(screen) {
  SCREENS.push(screen);
}

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOutButton = document.getElementById('signout');

let ctx = null;
let cleanup = null;

/** The dictionaries with look-ups, loaded once per sign-in and again after edits. */
function dictionaries(api) {
  let cached = null;
  const load = async () => {
    const [a, t] = await Promise.all([api.ok('dic/listAreas'), api.ok('dic/listEnterptypes')]);
    const areas = a.data.areas;
    const types = t.data.enterptypes;
    const byId = new Map(areas.map((x) => [x.areaid, x]));
    const children = new Map();
    for (const x of areas) {
      const p = x.parentid && byId.has(x.parentid) ? x.parentid : '';
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(x);
    }
    const typeById = new Map(types.map((x) => [x.enterptypeid, x]));
    return {
      areas,
      types,
      children: (id) => children.get(id ?? '') ?? [],
      areaName: (id) => byId.get(id)?.name ?? id,
      typeName: (id) => typeById.get(id)?.name ?? id,
      /** "山东省 › 济南市 › 历下区" */
      path(id) {
        const names = [];
        for (let x = byId.get(id); x && names.length <= areas.length; x = byId.get(x.parentid)) names.unshift(x.name);
        return names.join(' › ') || id;
      },
      /** Areas in tree order with their depth, for selects. */
      flat() {
        const out = [];
        const walk = (id, depth) => {
          for (const x of children.get(id) ?? []) {
            out.push({ ...x, depth });
            if (depth < 64) walk(x.areaid, depth + 1);
          }
        };
        walk('', 0);
        return out;
      },
    };
  };
  return (opts = {}) => {
    if (!cached || opts.fresh) cached = load();
    cached.catch(() => {
      cached = null;
    });
    return cached;
  };
}

function route() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [id, ...args] = hash.split('/').map(decodeURIComponent);
  const screen = SCREENS.find((s) => s.id === id) ?? SCREENS[0];
  return { screen, args: screen.id === id ? args : [] };
}

async function show() {
  if (!ctx) return;
  const { screen, args } = route();
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A screen that failed to clean up must not keep the next one from showing.
    }
    cleanup = null;
  }
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.screen === screen.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${screen.title} · qunfa console`;
  view.dataset.screen = screen.id;
  delete view.dataset.ready;
  view.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
  const mine = ctx;
  // Each screen reads the dictionaries as they are now (another tab or tool may have changed them).
  ctx.dicts = dictionaries(ctx.api);
  try {
    const mod = await import(screen.module);
    if (ctx !== mine) return;
    view.replaceChildren();
    const done = await mod.render(ctx, args);
    if (typeof done === 'function') cleanup = done;
  } catch (e) {
    view.replaceChildren(screenTitle(screen.title), h('p', { class: 'error', role: 'alert', text: describe(e) }));
  }
  view.dataset.ready = screen.id;
  view.querySelector('h1')?.focus({ preventScroll: false });
}

function buildNav() {
  nav.replaceChildren(h('ul', {}, SCREENS.map((s) => h('li', {},
    h('a', { href: `#/${s.id}`, dataset: { screen: s.id }, text: s.title })))));
}

function start(creds) {
  const api = session.apiFor(creds);
  ctx = {
    api,
    appkey: creds.appkey,
    view,
    go: (hash) => {
      if (location.hash === hash) show();
      else location.hash = hash;
    },
    dicts: dictionaries(api),
    signOut,
  };
  who.textContent = `AppKey ${creds.appkey}`;
  who.hidden = false;
  signOutButton.hidden = false;
  nav.hidden = false;
  buildNav();
  show();
}

function signOut() {
  if (cleanup) cleanup();
  cleanup = null;
  ctx = null;
  session.clear();
  who.hidden = true;
  signOutButton.hidden = true;
  nav.hidden = true;
  signInForm();
}

function signInForm() {
  document.title = 'Sign in · qunfa console';
  view.dataset.screen = 'signin';
  const appkey = h('input', { name: 'appkey', required: true, spellcheck: 'false', autocomplete: 'username', value: session.rememberedAppkey() });
  const secret = h('input', { name: 'secret', type: 'password', required: true, autocomplete: 'current-password' });
  const remember = check('Remember the AppKey on this computer', { name: 'remember', checked: !!session.rememberedAppkey() });
  const error = alertBox();
  const submit = h('button', { type: 'submit', text: 'Sign in' });
  const form = h('form', { class: 'panel signin', id: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1', class: 'screen-title', text: 'Sign in' }),
    h('p', { class: 'hint', text: 'The AppKey and AppSecret of the app, as `qunfa app create` or the first start printed them. The AppSecret stays in this tab and signs each request here; it is never sent.' }),
    field('AppKey', appkey),
    field('AppSecret', secret),
    remember.el,
    submit,
    error.el);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    const creds = { appkey: appkey.value.trim(), secret: secret.value.trim() };
    busy(submit, async () => {
      const refused = await session.check(session.apiFor(creds));
      if (refused) {
        error.show(describe(refused));
        (refused.desc === 'appkey' ? appkey : secret).focus();
        return;
      }
      session.save(creds, remember.box.checked);
      if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/overview');
      start(creds);
    });
  });
  view.replaceChildren(form);
  view.dataset.ready = 'signin';
  (appkey.value ? secret : appkey).focus();
}

signOutButton.addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => show());
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  view.focus();
});

const saved = session.load();
if (saved) start(saved);
else signInForm();
