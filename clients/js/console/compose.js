// compose.js: a targeted send (`msg/sendMsgToAll`): the audience (audience.js) with a live
// count (`msg/previewAudience`), the message (text, image, the original request's product
// card, or any type with a JSON body), `ext`, `markRead`, a test send to one account, and the
// send itself with the server's answer.

import { randomNonce } from './api.js';
import { audienceSources } from './audience.js';
import { h, field, check, select, num, screenTitle, describe, busy, confirmDialog, alertBox, debounce } from './ui.js';

/** The original request's product card (shared spec `sendMsgToAll.txt`), trimmed. */
const EXAMPLE_CARD = {
  contentinfoid: '1',
  contentcode: 1022,
  enterpinfoid: '10000',
  contenttitle: '一米哥湖南梅菜扣肉、鱼香肉丝半成品 微波炉加热即可食用,方便卫生,高效快捷',
  covermedia: 'https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132735.png',
  contentdesc: '测试内容描述42018-05-10 16:42:51',
  contenttemplate: '2',
  clicks: 4,
  status: '1',
  createtime: '2018-05-03 10:07:45',
  companyname: '山东得利斯食品有限公司',
};

const MAX_BODY = 5000;

export async function render(ctx) {
  const { api, view } = ctx;
  const [dicts, counts] = await Promise.all([ctx.dicts(), api.ok('dic/countAccounts').then((r) => r.data)]);

  // --- audience -------------------------------------------------------------------
  const count = h('output', { id: 'audience-count', class: 'count-big', 'aria-live': 'polite', text: num(counts.accounts) });
  const countNote = h('p', { class: 'hint', id: 'audience-note', text: 'Everyone: no area, type or list chosen.' });
  const countError = alertBox();
  let seq = 0;
  let reach = counts.accounts;
  const refreshCount = debounce(async () => {
    const mine = ++seq;
    const p = selection();
    count.dataset.state = 'pending';
    try {
      const r = await api.call('msg/previewAudience', p);
      if (mine !== seq) return;
      if (r.code === 200) {
        reach = r.data.recipients;
        count.textContent = num(reach);
        count.dataset.count = String(reach);
        countError.clear();
        const what = sources.map((s) => s.describe()).filter(Boolean);
        countNote.textContent = what.length ? `Accounts in ${what.join(' and ')}.` : 'Everyone: no area, type or list chosen.';
      } else {
        reach = null;
        count.textContent = '–';
        delete count.dataset.count;
        countError.show(describe(r));
      }
    } catch (e) {
      if (mine === seq) countError.show(describe(e));
    }
    if (mine === seq) count.dataset.state = 'ready';
  }, 200);
  const env = { dicts, counts, changed: refreshCount };
  const sources = audienceSources.map((s) => s.create(env));
  const selection = () => Object.assign({}, ...sources.map((s) => s.params()));

  // --- message --------------------------------------------------------------------
  const kinds = [['text', 'Text'], ['image', 'Image'], ['card', 'Product card'], ['custom', 'Other type, JSON body']];
  const kindRadios = kinds.map(([v, t], i) => {
    const r = h('input', { type: 'radio', name: 'kind', value: v, checked: i === 0 });
    return h('label', { class: 'check' }, r, ' ', t);
  });
  const text = h('textarea', { name: 'text', rows: 4, maxlength: MAX_BODY });
  const img = {
    url: h('input', { name: 'image-url', type: 'url', placeholder: 'https://…/poster.png' }),
    name: h('input', { name: 'image-name' }),
    w: h('input', { name: 'image-w', type: 'number', min: 0 }),
    h: h('input', { name: 'image-h', type: 'number', min: 0 }),
  };
  const card = {
    title: h('input', { name: 'card-title' }),
    desc: h('textarea', { name: 'card-desc', rows: 2 }),
    company: h('input', { name: 'card-company' }),
    cover: h('input', { name: 'card-cover', type: 'url' }),
    id: h('input', { name: 'card-id' }),
    more: h('textarea', { name: 'card-more', rows: 3, spellcheck: 'false', placeholder: '{"contentcode": 1022}' }),
    type: select([['2', '2, as the original request sends it'], ['100', '100 (custom)']], { name: 'card-type' }),
  };
  const fillExample = h('button', { type: 'button', class: 'secondary', text: "Fill in the original request's card" });
  const custom = {
    type: h('input', { name: 'custom-type', type: 'number', min: 0, value: '100' }),
    body: h('textarea', { name: 'custom-body', rows: 4, spellcheck: 'false', placeholder: '{"key": "value"}' }),
  };
  const panels = {
    text: h('div', {}, field('Text', text)),
    image: h('div', {}, field('Image URL', img.url), h('div', { class: 'row' }, field('File name', img.name), field('Width (px)', img.w), field('Height (px)', img.h))),
    card: h('div', {},
      h('div', { class: 'actions start' }, fillExample),
      field('Title', card.title), field('Description', card.desc),
      h('div', { class: 'row' }, field('Company', card.company), field('Content id', card.id)),
      field('Cover image URL', card.cover, 'Clients show it; the console shows only its address.'),
      field('More fields (a JSON object)', card.more),
      field('Message type', card.type)),
    custom: h('div', {}, field('Message type (number)', custom.type), field('Body (a JSON object)', custom.body)),
  };
  const ext = h('input', { name: 'ext', maxlength: 1024 });
  const markRead = check('Ask for read receipts (markRead)', { name: 'markRead' });
  const preview = h('div', { class: 'preview', 'aria-label': 'Preview' });
  const messageError = alertBox();
  const kind = () => view.querySelector('input[name=kind]:checked')?.value ?? 'text';

  fillExample.addEventListener('click', () => {
    card.title.value = EXAMPLE_CARD.contenttitle;
    card.desc.value = EXAMPLE_CARD.contentdesc;
    card.company.value = EXAMPLE_CARD.companyname;
    card.cover.value = EXAMPLE_CARD.covermedia;
    card.id.value = EXAMPLE_CARD.contentinfoid;
    const { contenttitle, contentdesc, companyname, covermedia, contentinfoid, ...rest } = EXAMPLE_CARD;
    card.more.value = JSON.stringify(rest, null, 1);
    card.type.value = '2';
    showPreview();
  });

  /** `{type, body}` of the message as filled in; throws a message for the operator. */
  function content() {
    const json = (raw, what) => {
      if (!raw.trim()) return {};
      let v;
      try {
        v = JSON.parse(raw);
      } catch {
        throw new Error(`${what} is not valid JSON.`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object.`);
      return v;
    };
    const k = kind();
    let out;
    if (k === 'text') {
      if (!text.value.trim()) throw new Error('Write the text of the message.');
      out = { type: 0, body: { msg: text.value } };
    } else if (k === 'image') {
      if (!img.url.value.trim()) throw new Error("Give the image's URL.");
      const body = { url: img.url.value.trim() };
      if (img.name.value.trim()) body.name = img.name.value.trim();
      if (img.w.value) body.w = Number(img.w.value);
      if (img.h.value) body.h = Number(img.h.value);
      out = { type: 1, body };
    } else if (k === 'card') {
      if (!card.title.value.trim()) throw new Error('Give the card a title.');
      const body = { ...json(card.more.value, 'More fields') };
      const set = (key, v) => {
        if (v.trim()) body[key] = v.trim();
      };
      set('contentinfoid', card.id.value);
      set('contenttitle', card.title.value);
      set('contentdesc', card.desc.value);
      set('companyname', card.company.value);
      set('covermedia', card.cover.value);
      out = { type: Number(card.type.value), body };
    } else {
      const t = Number(custom.type.value);
      if (!Number.isInteger(t) || t < 0) throw new Error('The message type is a number, such as 100.');
      out = { type: t, body: json(custom.body.value, 'The body') };
    }
    if (JSON.stringify(out.body).length > MAX_BODY) throw new Error(`The body is longer than ${MAX_BODY} characters.`);
    return out;
  }

  function showPreview() {
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== kind();
    let c;
    try {
      c = content();
      messageError.clear();
    } catch {
      preview.replaceChildren(h('p', { class: 'muted', text: 'The preview appears as you write.' }));
      return;
    }
    preview.replaceChildren(renderBody(c.type, c.body));
  }
  view.addEventListener('input', (ev) => {
    if (ev.target.closest?.('.message')) showPreview();
  });

  // --- test send and send ---------------------------------------------------------
  const testAccid = h('input', { name: 'test-accid', spellcheck: 'false', autocomplete: 'off' });
  const testButton = h('button', { type: 'button', class: 'secondary', text: 'Send a test' });
  const testAnswer = h('p', { id: 'test-answer', 'aria-live': 'polite' });
  const sendButton = h('button', { type: 'submit', id: 'send', text: 'Send' });
  const answer = h('div', { id: 'send-answer', 'aria-live': 'polite' });
  let msgidclient = `console-${randomNonce()}`;

  const common = () => {
    const c = content();
    const p = { type: c.type, body: c.body, markRead: markRead.box.checked ? 1 : 0 };
    if (ext.value) p.ext = ext.value;
    return p;
  };

  testButton.addEventListener('click', () => {
    testAnswer.textContent = '';
    let p;
    try {
      p = common();
    } catch (e) {
      messageError.show(e.message);
      return;
    }
    const accid = testAccid.value.trim().toLowerCase();
    if (!accid) {
      testAnswer.textContent = 'Give the account to send the test to.';
      testAccid.focus();
      return;
    }
    busy(testButton, async () => {
      const r = await api.call('msg/sendMsgToAll', { ...p, toAccids: [accid] }).catch((e) => e);
      testAnswer.className = r.code === 200 ? 'ok' : 'error';
      testAnswer.textContent = r.code === 200
        ? `Test sent to ${accid}: msgid ${r.data.msgid}${r.data.antispam ? ', but the keyword filter stopped it' : ''}.`
        : describe(r);
    });
  });

  const form = h('form', { class: 'compose', id: 'compose', novalidate: true },
    h('div', {},
      h('section', { 'aria-labelledby': 'aud-h' }, h('h2', { id: 'aud-h', text: 'Who receives it' }), sources.map((s) => s.el)),
      h('section', { class: 'message', 'aria-labelledby': 'msg-h' },
        h('h2', { id: 'msg-h', text: 'Message' }),
        h('fieldset', {}, h('legend', { text: 'Kind' }), kindRadios),
        Object.values(panels),
        field('ext (extension field, up to 1,024 characters)', ext),
        markRead.el,
        messageError.el,
        h('h3', { text: 'Preview' }), preview),
      h('section', { 'aria-labelledby': 'test-h' },
        h('h2', { id: 'test-h', text: 'Test send' }),
        h('div', { class: 'row' }, field('Test account (accid)', testAccid, 'Sends this message to that account alone.'), testButton),
        testAnswer)),
    h('aside', { class: 'panel audience-count', 'aria-labelledby': 'reach-h' },
      h('h2', { id: 'reach-h', text: 'Reaches' }),
      count, h('span', { text: ' accounts' }), countNote, countError.el,
      h('div', { class: 'actions start' }, sendButton),
      answer));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    answer.replaceChildren();
    let p;
    try {
      p = { ...common(), ...selection(), msgidclient };
    } catch (e) {
      messageError.show(e.message);
      return;
    }
    busy(sendButton, async () => {
      const n = reach === null ? 'the selected' : num(reach);
      if (!(await confirmDialog(`Send this message to ${n} accounts now?`, { confirmText: 'Send' }))) return;
      const r = await api.call('msg/sendMsgToAll', p).catch((e) => e);
      if (r.code !== 200) {
        answer.replaceChildren(h('div', { class: 'panel answer bad', role: 'alert', text: describe(r) }));
        return;
      }
      msgidclient = `console-${randomNonce()}`;
      const d = r.data;
      answer.replaceChildren(h('div', { class: 'panel answer', dataset: { msgid: d.msgid, recipients: d.recipients } },
        h('h3', { text: d.antispam ? 'Stopped by the keyword filter' : 'Sent' }),
        h('dl', {},
          h('dt', { text: 'msgid' }), h('dd', { class: 'msgid', text: d.msgid }),
          h('dt', { text: 'recipients' }), h('dd', { class: 'recipients', text: num(d.recipients) }),
          h('dt', { text: 'antispam' }), h('dd', { class: 'antispam', text: d.antispam ? 'true: stored, delivered to nobody' : 'false' })),
        h('a', { href: `#/sends/${d.msgid}`, text: 'Follow its delivery →' })));
    });
  });

  view.append(screenTitle('Compose a targeted send'), form);
  showPreview();
  refreshCount();
}

/**
 * A message body as clients would roughly show it. Pictures are named, not loaded: the
 * console fetches nothing from other origins.
 */
export function renderBody(type, body) {
  if (typeof body === 'string') return h('p', { class: 'preview-text', text: body });
  if (type === 0 || type === 10) return h('p', { class: 'preview-text', text: body.msg ?? '' });
  const title = body.contenttitle ?? body.title ?? body.name;
  const picture = body.covermedia ?? body.url;
  const host = (u) => {
    try {
      return new URL(u).host;
    } catch {
      return u;
    }
  };
  if (type === 1 && !title) {
    return h('div', { class: 'product' }, h('div', { class: 'cover', text: `image · ${host(picture ?? '')}` }), h('div', {}, h('h4', { text: body.name ?? 'image' })));
  }
  if (title || picture) {
    return h('div', { class: 'product' },
      h('div', { class: 'cover', title: picture ?? '', text: picture ? `image · ${host(picture)}` : 'no image' }),
      h('div', {},
        h('h4', { class: 'card-title', text: title ?? '' }),
        body.contentdesc ? h('p', { class: 'card-desc', text: body.contentdesc }) : null,
        body.companyname ? h('p', { class: 'card-source', text: body.companyname }) : null));
  }
  return h('pre', { class: 'mono', text: JSON.stringify(body, null, 1) });
}
