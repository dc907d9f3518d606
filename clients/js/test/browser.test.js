// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// sign in, watch a targeted send appear, open it (markRead), recall it and watch it go; then a
// team conversation: messages and notifications arrive, the composer sends over the gateway; and
// on a 390 px phone: the toolbar on one line, and what was read shown read in a later session.
//
// Skipped when Chromium is not installed, unless QUNFA_REQUIRE_BROWSER=1 (run-tests.sh sets it).
// QUNFA_SCREENSHOT names the screenshot file (default: qunfa-demo.png in the temp dir).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Server, waitFor } from './support.js';

const CHROMIUM = process.env.QUNFA_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
const skip = !haveBrowser && process.env.QUNFA_REQUIRE_BROWSER !== '1'
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;
const SCREENSHOT = process.env.QUNFA_SCREENSHOT ?? join(tmpdir(), 'qunfa-demo.png');

// The original request's product card (shared/spec/sendMsgToAll.txt), trimmed.
const CARD = {
  contentinfoid: '1',
  contentcode: 1022,
  enterpinfoid: '10000',
  contenttypeid: null,
  contenttitle: '一米哥湖南梅菜扣肉、鱼香肉丝半成品 微波炉加热即可食用,方便卫生,高效快捷',
  covermedia: 'https://youpeiliangpin.oss-cn-beijing.aliyuncs.com/content/TIM%E5%9B%BE%E7%89%8720180502132735.png',
  contentdesc: '测试内容描述42018-05-10 16:42:51',
  contenttemplate: '2',
  clicks: 4,
  status: '1',
  createtime: '2018-05-03 10:07:45',
  companyname: '山东得利斯食品有限公司',
  appregisterid: null,
};

const PIXEL = 'data:image/svg+xml;base64,' + Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="120"><rect width="240" height="120" fill="#c8102e"/>'
  + '<text x="120" y="70" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">qunfa</text></svg>',
).toString('base64');

let server;
let browser;
before(async () => {
  if (skip) return;
  server = await Server.start();
  const { chromium } = await import('playwright-core');
  // Each launch gets a fresh temporary profile (playwright's own --user-data-dir). Without the
  // background-networking flags Chromium keeps trying hosts this machine cannot reach.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});
after(async () => {
  await browser?.close();
  await server?.destroy();
});

test('the demo inbox shows a targeted send live, sends markRead when opened, and drops it on recall', { skip, timeout: 60_000 }, async () => {
  const token = await server.user('lily');
  const page = await browser.newPage({ viewport: { width: 900, height: 1000 }, locale: 'zh-CN' });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|SyntaxError|TypeError/.test(m.text())) problems.push(m.text());
  });

  // /demo leads to the page.
  await page.goto(`${server.base}/demo`);
  assert.equal(new URL(page.url()).pathname, '/demo/');
  assert.equal(await page.inputValue('input[name=url]'), server.base, 'the server defaults to the page origin');
  await page.fill('input[name=appkey]', server.appkey);
  await page.fill('input[name=accid]', 'lily');
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=live]');
  assert.equal(await page.textContent('#who'), 'lily');

  // A message sent before is not needed: everything below arrives live.
  const text = await server.send(['lily'], '今晚八点直播开始,欢迎收看!');
  const image = (await server.ok('msg/sendMsgToAll', {
    toAccids: ['lily'], type: 1, body: { name: 'poster.svg', url: PIXEL, w: 240, h: 120 },
  })).data.msgid;
  const place = (await server.ok('msg/sendMsgToAll', {
    toAccids: ['lily'], type: 4, body: { title: '济南市历下区泉城广场', lat: 36.6616, lng: 117.0193 },
  })).data.msgid;
  // The original request as written: JSON, type "2", the card as an object, recipients in `two`.
  const sent = await server.apiJson('msg/sendMsgToAll', {
    body: CARD, type: '2', two: [{ appregisterid: 'lily' }], markRead: 1,
  });
  assert.equal(sent.code, 200, JSON.stringify(sent));
  const card = sent.data.msgid;

  const item = (id) => `#inbox li[data-msgid="${id}"]`;
  await page.waitForSelector(item(card));
  assert.equal(await page.textContent(`${item(text)} .text`), '今晚八点直播开始,欢迎收看!');
  assert.equal(await page.getAttribute(`${item(image)} img`, 'alt'), 'poster.svg');
  assert.match(await page.textContent(`${item(place)} .location`), /泉城广场/);
  assert.equal(await page.textContent(`${item(card)} .card-title`), CARD.contenttitle);
  assert.equal(await page.textContent(`${item(card)} .card-desc`), CARD.contentdesc);
  assert.equal(await page.textContent(`${item(card)} .card-source`), CARD.companyname);
  assert.deepEqual(
    await page.$$eval('#inbox li.msg', (lis) => lis.map((li) => Number(li.dataset.msgid))),
    [card, place, image, text],
    'newest first',
  );

  // Opening the card (it asks for read receipts) reports it read.
  await page.click(`${item(card)} .card-title`);
  assert.equal(await page.textContent(`${item(card)} .readmark`), 'read ✓');
  await waitFor(async () => (await server.ok('msg/queryMassMsgStats', { msgid: card })).data.read === 1, 'the read reported');
  await page.waitForFunction(() => Number(document.getElementById('cursor').textContent) > 0);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  const r = await server.ok('msg/recallMassMsg', { msgid: card });
  assert.equal(r.code, 200);
  await page.waitForSelector(item(card), { state: 'detached' });
  assert.equal(await page.locator('#inbox li.msg').count(), 3);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the demo shows a team conversation and sends from its composer', { skip, timeout: 60_000 }, async () => {
  const token = await server.user('mei');
  await server.user('tao');
  await server.user('ren');
  const tid = (await server.ok('team/create', {
    tname: '周末爬山', owner: 'tao', members: ['mei'], msg: 'join', magree: 0, joinmode: 0,
  })).tid;
  const earlier = (await server.ok('msg/sendMsg', {
    from: 'tao', ope: 1, to: tid, type: 0, body: { msg: '周六早上八点集合' },
  })).data.msgid;
  const page = await browser.newPage({ viewport: { width: 900, height: 1100 }, locale: 'zh-CN' });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${server.base}/demo/`);
  await page.fill('input[name=appkey]', server.appkey);
  await page.fill('input[name=accid]', 'mei');
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=live]');

  // Caught up: the team opened by itself, with its creation and the earlier message.
  const line = (id) => `#team-log li[data-msgid="${id}"]`;
  await page.waitForSelector(line(earlier));
  assert.match(await page.textContent('#team-title'), /周末爬山 · team/);
  assert.match(await page.textContent('#team-log li.note'), /tao created the team/);
  assert.equal(await page.textContent(`${line(earlier)} .text`), '周六早上八点集合');

  // Live: a member's message and a notification.
  const live = (await server.ok('msg/sendMsg', {
    from: 'tao', ope: 1, to: tid, type: 0, body: { msg: '记得带水' },
  })).data.msgid;
  await page.waitForSelector(line(live));
  await server.ok('team/add', { tid, owner: 'tao', members: ['ren'], magree: 0, msg: 'm' });
  await page.waitForFunction(() => [...document.querySelectorAll('#team-log li.note')].some((li) => li.textContent === 'tao added ren'));

  // The composer sends over the gateway; the message comes back as this account's.
  await page.fill('#composer input[name=text]', '好的,我会准时到!');
  await page.click('#composer button[type=submit]');
  await page.waitForSelector('#team-log li.said.mine');
  assert.equal(await page.textContent('#team-log li.said.mine .text'), '好的,我会准时到!');
  const h = await server.ok('history/queryTeamMsg', {
    tid, accid: 'tao', begintime: 0, endtime: Date.now() + 60_000, limit: 10, type: 0, reverse: 1,
  });
  assert.deepEqual(h.msgs.map((m) => [m.from, m.body.msg]).at(-1), ['mei', '好的,我会准时到!']);
  assert.equal(await page.inputValue('#composer input[name=text]'), '', 'the composer is cleared');

  // A refusal shows the server's answer and keeps the text.
  await server.ok('team/muteTlist', { tid, owner: 'tao', accid: 'mei', mute: 1 });
  await page.fill('#composer input[name=text]', '还能说话吗?');
  await page.click('#composer button[type=submit]');
  await page.waitForSelector('#composer-error:not([hidden])');
  assert.match(await page.textContent('#composer-error'), /banned in team .* \(812\)/);
  assert.equal(await page.inputValue('#composer input[name=text]'), '还能说话吗?');
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-team.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the demo remembers what was read in an earlier session, and its toolbar fits a 390 px phone', { skip, timeout: 60_000 }, async () => {
  const accid = 'kim_reader_390';
  const token = await server.user(accid);
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const signIn = async () => {
    await page.fill('input[name=appkey]', server.appkey);
    await page.fill('input[name=accid]', accid);
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('#status[data-state=live]');
  };
  await page.goto(`${server.base}/demo/`);
  await signIn();

  // The toolbar stays one line: nothing wraps, nothing overflows.
  const bar = await page.$eval('.toolbar', (t) => {
    // Lines of text in an item: its content height over its line height.
    const lines = (c) => {
      const cs = getComputedStyle(c);
      const px = (v) => parseFloat(v) || 0;
      const lh = cs.lineHeight === 'normal' ? px(cs.fontSize) * 1.4 : px(cs.lineHeight);
      const inner = c.getBoundingClientRect().height - px(cs.paddingTop) - px(cs.paddingBottom)
        - px(cs.borderTopWidth) - px(cs.borderBottomWidth);
      return Math.round(inner / lh);
    };
    const rects = [...t.children].map((c) => c.getBoundingClientRect());
    return {
      overflow: t.scrollWidth - t.clientWidth,
      lines: [...t.children].map(lines),
      centres: rects.map((r) => Math.round(r.top + r.height / 2)),
      right: Math.max(...rects.map((r) => r.right)),
      width: document.documentElement.clientWidth,
    };
  });
  assert.ok(bar.overflow <= 0, `the toolbar overflows by ${bar.overflow} px`);
  assert.deepEqual(bar.lines, [1, 1, 1], 'each item of the toolbar on one line');
  assert.ok(Math.max(...bar.centres) - Math.min(...bar.centres) <= 2, `items on different lines: ${bar.centres}`);
  assert.ok(bar.right <= bar.width, `past the screen's edge: ${bar.right} > ${bar.width}`);
  assert.equal(await page.isVisible('#composer'), false, 'no composer before a team is open');

  const msgid = (await server.ok('msg/sendMsgToAll', {
    toAccids: [accid], type: 0, body: { msg: '请确认收到' }, markRead: 1,
  })).data.msgid;
  const item = `#inbox li[data-msgid="${msgid}"]`;
  await page.waitForSelector(item);
  assert.equal(await page.textContent(`${item} .readmark`), 'open to mark read');
  await page.click(`${item} .text`);
  assert.equal(await page.textContent(`${item} .readmark`), 'read ✓');
  await waitFor(async () => (await server.ok('msg/queryMassMsgStats', { msgid })).data.read === 1, 'the read reported');
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-390.png'), fullPage: true });

  // Signed out and in again, and after a reload (a new session of the page): still read.
  await page.click('#logout');
  await signIn();
  await page.waitForSelector(item);
  assert.equal(await page.textContent(`${item} .readmark`), 'read ✓');
  assert.ok(await page.$eval(item, (li) => li.classList.contains('read')));
  await page.reload();
  await signIn();
  await page.waitForSelector(item);
  assert.equal(await page.textContent(`${item} .readmark`), 'read ✓');
  // Another account in the same browser has its own reads.
  const other = await server.user('kim_other');
  const theirs = (await server.ok('msg/sendMsgToAll', {
    toAccids: ['kim_other'], type: 0, body: { msg: '请确认收到' }, markRead: 1,
  })).data.msgid;
  await page.click('#logout');
  await page.fill('input[name=appkey]', server.appkey);
  await page.fill('input[name=accid]', 'kim_other');
  await page.fill('input[name=token]', other);
  await page.click('button[type=submit]');
  await page.waitForSelector(`#inbox li[data-msgid="${theirs}"]`);
  assert.equal(await page.textContent(`#inbox li[data-msgid="${theirs}"] .readmark`), 'open to mark read');
  assert.deepEqual(problems, []);
  await page.close();
});
