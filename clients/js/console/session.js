// session.js: who is signed in to the console. The AppSecret is kept in this tab's
// sessionStorage only (gone when the tab closes, never sent anywhere but into the CheckSum);
// the AppKey may be remembered in localStorage to prefill the form.

import { QunfaApi } from './api.js';

const SESSION = 'qunfa.console.session';
const REMEMBER = 'qunfa.console.appkey';

/** The API of this console's own server: the directory above `/console/`, whatever the prefix. */
export function serverUrl() {
  return new URL('..', location.href).toString();
}

export function apiFor({ appkey, secret }) {
  return new QunfaApi({ url: serverUrl(), appkey, secret });
}

/** The signed-in app of this tab, or null. */
export function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION) ?? 'null');
    return s && typeof s.appkey === 'string' && typeof s.secret === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function save({ appkey, secret }, remember) {
  sessionStorage.setItem(SESSION, JSON.stringify({ appkey, secret }));
  if (remember) localStorage.setItem(REMEMBER, appkey);
  else localStorage.removeItem(REMEMBER);
}

export function clear() {
  sessionStorage.removeItem(SESSION);
}

export function rememberedAppkey() {
  return localStorage.getItem(REMEMBER) ?? '';
}

/**
 * Checks credentials with one cheap signed call. Answers null when they work, else the
 * refused answer (or the error thrown when the server could not be reached).
 */
export async function check(api) {
  try {
    const r = await api.call('dic/listEnterptypes');
    return r.code === 200 ? null : r;
  } catch (e) {
    return e;
  }
}
