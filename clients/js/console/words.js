// words.js: the app's keyword filter list (`antispam/getWords`, `antispam/setWords`). A send
// whose text contains one is stored, flagged and delivered to nobody.

import { h, field, num, screenTitle, describe, busy, alertBox, toast } from './ui.js';

const MAX_WORDS = 10_000;
const MAX_CHARS = 64;

export async function render(ctx) {
  const { api, view } = ctx;
  const r = await api.ok('antispam/getWords');
  const words = h('textarea', { name: 'words', rows: 12, spellcheck: 'false', lang: 'zh-CN' });
  words.value = r.data.words.join('\n');
  const info = h('p', { class: 'hint', id: 'words-info', 'aria-live': 'polite' });
  const error = alertBox();
  const save = h('button', { type: 'submit', text: 'Save the list' });
  const list = () => [...new Set(words.value.split('\n').map((w) => w.trim()).filter(Boolean))];
  const count = () => {
    info.textContent = `${num(list().length)} words. ASCII case is ignored; the server's global list (antispam.words_file) applies too.`;
  };
  words.addEventListener('input', count);
  count();
  const form = h('form', { class: 'panel', id: 'words-form' },
    field('Words, one per line', words, `Up to ${num(MAX_WORDS)} words of 1 to ${MAX_CHARS} characters; matched in every text of a message (body and ext).`),
    info, h('div', { class: 'actions start' }, save), error.el);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    const w = list();
    const long = w.find((x) => [...x].length > MAX_CHARS);
    if (long) {
      error.show(`“${long}” is longer than ${MAX_CHARS} characters.`);
      return;
    }
    busy(save, async () => {
      const a = await api.call('antispam/setWords', { words: w });
      if (a.code !== 200) {
        error.show(describe(a));
        return;
      }
      words.value = w.join('\n');
      count();
      toast(`Saved ${num(w.length)} words.`);
    });
  });
  view.append(screenTitle('Keyword filter'), form);
}
