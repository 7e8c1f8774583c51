// End-to-end tests of the RELEASE build in headless Chromium (Debian's, via playwright-core):
//   1. dist/index.html served over http on loopback: form, validation, re-plan, copy, downloads,
//      share link round trip (good and bad links), history, print media, keyboard, axe, light,
//      dark and phone screenshots, offline reload from the service worker, CSP;
//   2. dist/lockstep.html opened from file:// with no server: the same page, downloads, links.
// Every page fails the run on a console error, an uncaught exception or a request to any
// origin but its own. Screenshots, DOM dumps and a printed PDF go to target/browser/.
// Timing is never asserted here: `make bench` measures it.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { serve } from '../../scripts/serve.mjs';

const executablePath = process.env.CHROMIUM
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
if (!executablePath) throw new Error('no Chromium found: run scripts/setup.sh browser');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const out = resolve('target/browser');
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

const failures = [];
let passed = 0;
function check(ok, what) {
  if (ok) { passed += 1; console.log(`  ok   ${what}`); } else { failures.push(what); console.log(`  FAIL ${what}`); }
}
const attempt = async (what, body) => {
  try { await body(); } catch (e) { check(false, `${what}: ${e.message.split('\n')[0]}`); }
};

// Records console errors, page errors and foreign requests for one page.
function watch(page, allowed, problems = []) {
  page.on('console', (m) => {
    if (m.type() === 'error' || /preload/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on('request', (r) => { if (!allowed(r.url())) problems.push(`request to another origin: ${r.url()}`); });
  return problems;
}

const summary = (page) => page.locator('.plan .summary').innerText({ timeout: 30000 });
const until = (page, fn, arg, what) => page.waitForFunction(fn, arg, { timeout: 5000 })
  .then(() => true, () => { console.log(`       (timed out waiting: ${what})`); return false; });
const planHas = (page, text) => until(page, (t) => document.querySelector('.plan')?.textContent.includes(t), text, text);
// Warning codes are for machines: an attribute of the warning, never its visible title.
const planWarns = (page, code) => until(page, (c) => !!document.querySelector(`.plan .warnings li[data-code="${c}"]`) && !document.querySelector('.plan').textContent.includes(c), code, code);
const formState = (page) => page.$$eval('form.request input, form.request select',
  (els) => els.map((e) => `${e.name}=${e.type === 'checkbox' ? e.checked : e.value}`).join('&'));
const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());

async function axe(page, what, exclude = []) {
  await page.evaluate(axeSource);
  const result = await page.evaluate((ex) => window.axe.run({ exclude: ex.map((s) => [s]) }), exclude);
  const found = result.violations.map((v) => `${v.id} (${v.nodes.length}: ${v.nodes[0].target.join(' ')})`);
  check(found.length === 0, `${label}: axe finds no violations ${what}${found.length ? `: ${found.join('; ')}` : ''}`);
}
let label = '';

async function downloads(page, where) {
  const files = {};
  for (const name of ['runbook.md', 'forward.sql', 'rollback.sql', 'plan.json']) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`.downloads button:text-is("${name}")`)]);
    files[download.suggestedFilename()] = readFileSync(await download.path(), 'utf8');
  }
  const names = Object.keys(files).sort().join(' ');
  check(names === 'orders-add-index-forward.sql orders-add-index-plan.json orders-add-index-rollback.sql orders-add-index-runbook.md',
    `${where}: the four downloads are named after the table and the change (${names})`);
  const md = files['orders-add-index-runbook.md'] || '';
  check(md.startsWith('# Lockstep runbook') && md.includes('CREATE INDEX CONCURRENTLY') && md.includes('Rows: 500M'),
    `${where}: runbook.md is the runbook of these inputs`);
  const fwd = files['orders-add-index-forward.sql'] || '';
  check(fwd.includes('CREATE INDEX CONCURRENTLY IF NOT EXISTS') && fwd.includes('SET lock_timeout'), `${where}: forward.sql has the build with its timeouts`);
  check((files['orders-add-index-rollback.sql'] || '').includes('DROP INDEX CONCURRENTLY'), `${where}: rollback.sql drops the index`);
  let json = {};
  try { json = JSON.parse(files['orders-add-index-plan.json'] || '{}'); } catch { /* checked below */ }
  check(json.engine === 'postgresql' && json.phases?.length >= 2 && json.inputs?.table === 'orders' && json.inputs?.rows === '500M',
    `${where}: plan.json parses and carries the plan and the inputs`);
}

// ---------------------------------------------------------------------------------------------
// 1. Over http.
const server = await serve(resolve('dist'), 0, '127.0.0.1');
const origin = `http://127.0.0.1:${server.address().port}`;
const sameOrigin = (u) => u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:');
{
  label = 'http';
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await context.newPage();
  const problems = watch(page, sameOrigin);
  await page.goto(`${origin}/`);

  // First visit: the example plan, and the address bar already is its share link.
  await attempt('first visit', async () => {
    check((await summary(page)).includes('orders'), 'http: the first visit shows the example plan');
    check((await page.locator('#loading').count()) === 0, 'http: the loading line is gone once the planner runs');
    check(new URL(page.url()).search.startsWith('?v=1&db=postgresql@16.4&change=add-index&table=orders&columns=customer_id,+created_at&rows=500M'),
      `http: the address is the share link, version first (${new URL(page.url()).search.slice(0, 60)}...)`);
    const legends = await page.$$eval('form.request legend', (ls) => ls.map((l) => l.textContent.trim()));
    check(legends.join('|') === 'Database|Change|Table size|Downtime budget|Advanced facts', `http: the form is grouped (${legends.join(', ')})`);
    const options = await page.$$eval('#db-list option', (os) => os.map((o) => o.value));
    check(['postgresql@10', 'postgresql@18', 'mysql@8.0', 'mariadb@10.11'].every((o) => options.includes(o)), 'http: the database field suggests PostgreSQL, MySQL and MariaDB versions');
    await page.screenshot({ path: `${out}/desktop.png`, fullPage: true });
    writeFileSync(`${out}/desktop.html`, await page.content());
  });

  // Change types: only their own fields; every one renders; typed values survive switching.
  await attempt('change types', async () => {
    await page.selectOption('#f-change', 'drop-index');
    check(await until(page, () => !!document.querySelector('#f-index') && !document.querySelector('#f-columns'), null, 'drop-index fields'),
      'http: drop-index shows its index field and not the columns field');
    await page.selectOption('#f-change', 'add-column');
    check(await until(page, () => ['f-column', 'f-type', 'f-default', 'f-not-null'].every((id) => document.getElementById(id)) && !document.querySelector('#f-index'), null, 'add-column fields'),
      'http: add-column shows column, type, default and NOT NULL');
    const kinds = await page.locator('#f-change option').evaluateAll((os) => os.map((o) => o.value));
    let rendered = 0;
    for (const kind of kinds) {
      await page.selectOption('#f-change', kind);
      if (await until(page, () => document.querySelector('.plan .summary') || document.querySelector('.problems'), null, kind)) rendered += 1;
    }
    check(rendered === kinds.length && kinds.length >= 12, `http: all ${rendered} change types render a plan or name their missing fields`);
    await page.selectOption('#f-change', 'add-index');
    check((await page.inputValue('#f-columns')) === 'customer_id, created_at', 'http: switching change types keeps what was typed');
  });

  // Human sizes, re-planning as one types, the address bar follows without new history entries.
  await attempt('re-plan', async () => {
    const historyBefore = await page.evaluate(() => history.length);
    await page.fill('#f-size', '120 GB');
    await page.fill('#f-db', 'PostgreSQL 14.3');
    check(await planWarns(page, 'pg14-cic-corruption'), 'http: typing a new version as engineers write it re-plans (the 14.3 warning appears, its code not shown)');
    check((await page.locator('.problems').count()) === 0, 'http: "120 GB" and "500M" are accepted as written');
    await page.fill('#f-max-downtime', '5h');
    check(await until(page, () => /Strategy: direct/.test(document.querySelector('.rule')?.textContent), null, 'direct'),
      'http: a 5h budget re-plans to the direct statement');
    await page.fill('#f-max-downtime', '0');
    await until(page, () => /Strategy: online/.test(document.querySelector('.rule')?.textContent), null, 'online');
    check((await page.evaluate(() => history.length)) === historyBefore, 'http: typing replaces the address (no history entry per keystroke)');
    check(await until(page, () => new URL(location.href).searchParams.get('db') === 'postgresql@14.3', null, 'address'),
      'http: the address follows the inputs once typing pauses, with the canonical db');
    check((await page.inputValue('#f-db')) === 'PostgreSQL 14.3', 'http: the db field keeps what was typed');
  });

  // The timeline: every step has its badge in words, lock, duration, bar, SQL and copy button.
  await attempt('timeline', async () => {
    const steps = await page.$$eval('.phases .step', (ss) => ss.map((s) => ({
      badge: s.querySelector('.badge')?.textContent || '',
      colour: getComputedStyle(s.querySelector('.badge')).color,
      lock: s.querySelector('.lock code')?.textContent || '',
      duration: s.querySelector('.duration')?.textContent || '',
      bar: !!s.querySelector('.bar span'),
      sql: s.querySelector('pre code')?.textContent || '',
      mono: getComputedStyle(s.querySelector('pre code')).fontFamily,
      copy: !!s.querySelector('button.copy'),
    })));
    check(steps.length >= 2 && steps.every((s) => /^Blocks (nothing|writes|reads and writes)/.test(s.badge) && s.lock && s.duration.startsWith('Takes') && s.bar && s.sql && s.copy && /mono/i.test(s.mono)),
      `http: each of ${steps.length} steps shows its blocking in words, lock, duration, bar, monospace SQL and a copy button`);
    check(new Set(steps.map((s) => s.colour)).size >= 1 && (await page.locator('.badge.ok').count()) > 0, 'http: badges are coloured by what they block');
    check((await page.locator('.phases pre .k').count()) > 0 && (await page.locator('.phases pre .s').count()) > 0, 'http: SQL is highlighted (keywords, strings)');
    const widths = await page.$$eval('.phases .step .bar span', (bs) => bs.map((b) => b.getBoundingClientRect().width));
    check(Math.max(...widths) > 5 * Math.min(...widths), `http: duration bars make the long step stand out (${widths.map(Math.round).join(', ')} px)`);
    check((await page.locator('.reasoning .rule').innerText()).includes('Strategy: online')
      && (await page.locator('.reasoning .alternative').innerText()).includes('Blocks writes up to'),
      'http: the reasoning names the rule and what the naive statement would block, for how long');
    const closed = await page.$$eval('.phase details', (ds) => ds.every((d) => !d.open));
    check(closed && (await page.locator('.phase details.rollback').count()) === (await page.locator('.phase').count()),
      'http: every phase has its rollback (and checks) collapsed');
    await page.locator('.phase details.rollback summary').nth(1).click();
    await page.fill('#f-rows', '600M');
    await until(page, () => document.querySelector('.plan')?.textContent.includes('600M') || true, null, 'replan');
    await page.waitForTimeout(100);
    check(await page.locator('.phase details.rollback').nth(1).evaluate((d) => d.open), 'http: an opened rollback stays open through a re-plan');
    await page.fill('#f-rows', '500M');
  });

  // Other engines plan through the same page.
  await attempt('mysql', async () => {
    await page.fill('#f-db', 'mysql@8.0');
    check(await until(page, () => /^MySQL 8\.0/.test(document.querySelector('.plan .meta')?.textContent) && !document.querySelector('.plan-wrap.stale'), null, 'mysql plan'),
      'http: a MySQL version plans through the same page');
    const kinds = await page.locator('#f-change option').evaluateAll((os) => os.map((o) => o.value));
    let rendered = 0;
    for (const db of ['mysql@8.0', 'mariadb@10.11']) {
      await page.fill('#f-db', db);
      for (const kind of kinds) {
        await page.selectOption('#f-change', kind);
        if (await until(page, (k) => new URL(location.href).searchParams.get('change') === k
          && (document.querySelector('.problems') || !document.querySelector('.plan-wrap.stale')), kind, `${db} ${kind}`)) rendered += 1;
      }
    }
    check(rendered === 2 * kinds.length, `http: every change type on MySQL 8.0 and MariaDB 10.11 renders a plan or names its missing fields (${rendered})`);
    await page.selectOption('#f-change', 'add-index');
    await page.fill('#f-db', 'postgresql@14.3');
    await planWarns(page, 'pg14-cic-corruption');
  });

  // Deploy gates stand out between phases.
  await attempt('deploy gates', async () => {
    await page.selectOption('#f-change', 'rename-column');
    await page.fill('#f-column', 'status');
    await page.fill('#f-new-name', 'state');
    check(await until(page, () => document.querySelector('.phase .gate')?.textContent.startsWith('Deploy gate before phase'), null, 'gate'),
      'http: a rename shows the application deploy gate before its contract phase');
    await page.screenshot({ path: `${out}/deploy-gate.png`, fullPage: true });
    await page.selectOption('#f-change', 'add-index');
    await planHas(page, 'CREATE INDEX CONCURRENTLY');
  });

  // Validation: the field says what it accepts, keeps the text, the rest stays, the plan dims.
  await attempt('validation', async () => {
    const before = await formState(page);
    await page.fill('#f-rows', 'lots');
    check(await until(page, () => document.querySelector('#e-rows')?.textContent.includes('500M'), null, 'rows error'),
      'http: a bad row count says, next to the field, what it accepts');
    check((await page.getAttribute('#f-rows', 'aria-invalid')) === 'true' && (await page.getAttribute('#f-rows', 'aria-describedby')).includes('e-rows'),
      'http: the bad field is marked invalid and described by its message');
    check((await formState(page)) === before.replace('rows=500M', 'rows=lots'), 'http: the typed text and every other field are kept');
    check((await page.locator('.plan-wrap.stale .plan .summary').count()) === 1, 'http: the last valid plan stays visible, dimmed');
    check((await page.locator('.problems a[href="#f-rows"]').innerText()) === 'Row count', 'http: the problem list names the field and links to it');
    await page.focus('#f-db');
    await page.click('.problems a[href="#f-rows"]');
    check(await page.evaluate(() => document.activeElement.id === 'f-rows'), 'http: following that link puts the cursor in the field');
    check(await page.locator('.downloads button').first().isDisabled(), 'http: downloads wait for a plan of the current inputs');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${out}/invalid.png` });
    await axe(page, 'while an input is invalid (dimmed plan excluded)', ['.plan-wrap.stale']);
    await page.fill('#f-rows', '500M');
    check(await until(page, () => !document.querySelector('.plan-wrap.stale') && !document.querySelector('.problems'), null, 'fixed'),
      'http: fixing the field brings the plan back at full strength');
  });

  // Copying a step's SQL and the link.
  await attempt('copy', async () => {
    const step = page.locator('.phases .step', { hasText: 'CREATE INDEX CONCURRENTLY' }).first();
    await step.locator('button.copy').click();
    const copied = await clipboard(page);
    check(copied === await step.locator('pre code').textContent() && copied.includes('CREATE INDEX CONCURRENTLY IF NOT EXISTS'),
      'http: Copy puts the step\'s SQL, as plain text, on the clipboard');
    check((await step.locator('button.copy').innerText()) === 'Copied', 'http: the copy button confirms');
    await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }));
    await page.click('.share button');
    check(await until(page, () => document.activeElement.id === 'share-link' && /Copy failed/.test(document.querySelector('.share button').textContent), null, 'no clipboard'),
      'http: without a clipboard API (plain http) Copy link says so and selects the link instead');
    await page.fill('#f-rows', '501M');
    check(await until(page, () => new URL(location.href).searchParams.get('rows') === '501M', null, 'alive after failed copy'), 'http: ... and the page keeps working');
    await page.fill('#f-rows', '500M');
    await page.evaluate(() => delete navigator.clipboard);
    await page.waitForTimeout(1600);
    await page.click('.share button');
    const link = await clipboard(page);
    check(link === await page.inputValue('#share-link') && await until(page, (l) => location.href === l, link, 'address = link'),
      'http: "Copy link" copies the share link, equal to the address');
  });

  await attempt('downloads', () => downloads(page, 'http'));

  // The share link restores exactly the same form and plan in a fresh tab.
  await attempt('share link', async () => {
    await page.check('#f-unique');
    await page.fill('#f-where', "status = 'open' & total > 100");
    await page.click('form.request summary');
    await page.fill('#f-write-rate', '5k');
    await planHas(page, 'WHERE');
    const link = await page.inputValue('#share-link');
    const again = await context.newPage();
    watch(again, sameOrigin, problems);
    await again.goto(link);
    await summary(again);
    check((await formState(again)) === (await formState(page)), 'http: opening the share link restores every field exactly');
    check((await again.locator('.plan').textContent()) === (await page.locator('.plan').textContent()), 'http: ... and exactly the same plan');
    check((await again.locator('details.advanced').evaluate((d) => d.open)), 'http: a link with advanced facts opens that section');
    await again.close();
    await page.uncheck('#f-unique');
    await page.fill('#f-where', '');
    await page.fill('#f-write-rate', '');
  });

  // A damaged or foreign-version link restores what it can and says what it could not.
  await attempt('bad link', async () => {
    const bad = await context.newPage();
    watch(bad, sameOrigin, problems);
    await bad.goto(`${origin}/?v=9&db=postgresql%4015&change=add-index&table=accounts&columns=email&rows=lots&size=%ZZ&color=red`);
    await bad.waitForSelector('.banner', { timeout: 30000 });
    const banner = await bad.locator('.banner').innerText();
    check(banner.includes('version 9') && banner.includes('"color"') && banner.includes('"size"'),
      'http: a bad link names what it could not restore (version, unknown parameter, damaged value)');
    check((await bad.inputValue('#f-db')) === 'postgresql@15' && (await bad.inputValue('#f-table')) === 'accounts' && (await bad.inputValue('#f-rows')) === 'lots',
      'http: ... and restores everything else as written');
    check((await bad.locator('#e-rows').innerText()).includes('500M'), 'http: ... a bad value shows its field\'s message');
    await bad.screenshot({ path: `${out}/bad-link.png` });
    await bad.goto(`${origin}/?v=1&db=postgresql@16&change=add-partition&table=t`);
    await bad.waitForSelector('#e-change:not(:empty)', { timeout: 30000 });
    check((await bad.inputValue('#f-change')) === 'add-partition' && (await bad.locator('#e-change').innerText()).includes('add-column'),
      'http: an unknown change type stays shown as itself, with what the field accepts');
    await bad.goto(`${origin}/?v=1&db=postgresql@16&table=t`);
    await bad.waitForSelector('#e-change:not(:empty)', { timeout: 30000 });
    await bad.selectOption('#f-change', 'add-column');
    check(await until(bad, () => !!document.getElementById('f-column'), null, 'fields after no change type'),
      'http: a link without a change type shows "choose", and choosing one brings its fields');
    await bad.goto(`${origin}/?color=red`);
    await bad.waitForSelector('.banner', { timeout: 30000 });
    check((await bad.locator('.banner').innerText()).includes('example') && (await summary(bad)).includes('orders'),
      'http: a link with nothing usable falls back to the example and says so');
    await bad.close();
  });

  // Keyboard only: the fields in reading order, then the toolbar; sections open with Enter.
  await attempt('keyboard', async () => {
    await page.goto(`${origin}/`);
    await summary(page);
    await page.locator('body').focus();
    const order = [];
    for (let i = 0; i < 40 && !order.includes('share-link'); i += 1) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim().slice(0, 20)));
    }
    const want = ['f-db', 'f-change', 'f-table', 'f-schema', 'f-columns', 'f-unique', 'f-where', 'f-method', 'f-name', 'f-rows', 'f-size', 'f-max-downtime'];
    check(order[0] === 'Skip to the plan' && want.every((id, i) => order[i + 1] === id) && order.includes('runbook.md') && order.includes('share-link'),
      `http: Tab visits the fields in reading order, then the toolbar (${order.slice(0, 15).join(', ')}, ...)`);
    await page.focus('a.skip');
    await page.keyboard.press('Enter');
    check(await until(page, () => document.activeElement.id === 'plan', null, 'skip link'), 'http: "Skip to the plan" moves focus to the plan');
    await page.focus('#f-rows');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('2B');
    check(await until(page, () => new URL(location.href).searchParams.get('rows') === '2B' && !document.querySelector('.problems'), null, 'keyboard typing'),
      'http: typing from the keyboard re-plans');
    await page.focus('.phase details.rollback summary');
    await page.keyboard.press('Enter');
    check(await page.locator('.phase details.rollback').first().evaluate((d) => d.open), 'http: Enter opens a rollback section');
    await page.focus('.phases .step button.copy');
    await page.keyboard.press('Enter');
    check(await until(page, () => document.querySelector('.phases .step button.copy').textContent === 'Copied', null, 'keyboard copy'), 'http: Enter on a copy button copies');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(ring !== 'none', `http: the focused control shows a focus ring (${ring})`);
    await page.keyboard.press('Escape');
  });

  // Accessibility and looks: axe on light, dark and phone; screenshots of each.
  await attempt('a11y', async () => {
    await page.goto(`${origin}/`);
    await summary(page);
    await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = true; }));
    const live = await page.$$eval('[aria-live]', (ls) => ls.map((l) => l.className));
    check(live.includes('status'), 'http: the plan status line is an aria-live region');
    await axe(page, 'on the plan with every section open (light)');
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(bg === 'rgb(18, 19, 20)', `http: dark scheme darkens the page (${bg})`);
    await axe(page, 'in the dark scheme');
    await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = false; }));
    await page.screenshot({ path: `${out}/dark.png`, fullPage: false });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 375, height: 812 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 375, `http: nothing overflows a 375 px phone (${overflow} px wide)`);
    await axe(page, 'at 375 px');
    await page.screenshot({ path: `${out}/phone.png`, fullPage: false });
    await page.locator('.plan').screenshot({ path: `${out}/phone-plan.png` });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  // Print: only the runbook, every section open, nothing cut.
  await attempt('print', async () => {
    await page.emulateMedia({ media: 'print' });
    const hidden = await page.$$eval('form.request, .toolbar, button.copy', (es) => es.every((e) => getComputedStyle(e).display === 'none'));
    check(hidden, 'http: print hides the form, toolbar and buttons');
    const rollback = await page.locator('.phase details.rollback pre').first().isVisible();
    check(rollback, 'http: print shows the rollback and validation sections, even closed');
    await page.pdf({ path: `${out}/runbook.pdf`, format: 'A4', printBackground: true });
    await page.setViewportSize({ width: 800, height: 1100 });
    await page.screenshot({ path: `${out}/print.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ media: 'screen' });
  });

  // The single file is offered for download from the hosted page.
  await attempt('single-file link', async () => {
    const href = await page.getAttribute('footer.bottom a', 'href');
    const response = await page.request.get(`${origin}/${href}`);
    check(href === 'lockstep.html' && response.ok() && (await response.text()).includes('initSync'),
      'http: the hosted page offers dist/lockstep.html, the single file');
  });

  // CSP: the page itself cannot reach another origin.
  await attempt('csp', async () => {
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    check(csp.includes("default-src 'self'") && csp.includes("connect-src 'self'"), 'http: a Content-Security-Policy limits the page to its own origin');
    const blocked = await page.evaluate(() => new Promise((ok) => {
      document.addEventListener('securitypolicyviolation', (e) => ok(e.violatedDirective), { once: true });
      fetch('http://192.0.2.1/').catch(() => {});
      setTimeout(() => ok('not blocked'), 2000);
    }));
    check(blocked === 'connect-src', `http: a fetch to another origin is refused by the CSP (${blocked})`);
  });

  // Offline: once the service worker has cached the build, the page works without the server.
  await attempt('offline', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.reload();
    const online = await summary(page);
    await context.setOffline(true);
    await page.reload();
    const offline = await summary(page).catch((e) => `failed: ${e.message}`);
    check(offline === online, `http: the page reloads offline from the service worker cache (${offline.slice(0, 50)})`);
    await page.fill('#f-rows', '1B');
    check(await until(page, () => new URL(location.href).searchParams.get('rows') === '1B', null, 'offline replan'), 'http: and re-plans offline');
    await context.setOffline(false);
  });

  // Problems recorded, minus the CSP probe's own refused fetch.
  const real = problems.filter((p) => !p.includes('192.0.2.1'));
  check(real.length === 0, `http: no console error, exception or foreign request${real.length ? ` (${real.join('; ')})` : ''}`);
  await context.close();
}
server.close();

// ---------------------------------------------------------------------------------------------
// 2. The single file from file://.
{
  label = 'file';
  const fileUrl = `file://${resolve('dist/lockstep.html')}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  const local = (u) => u.startsWith('file:') || u.startsWith('data:') || u.startsWith('blob:');
  const problems = watch(page, local);
  await page.goto(fileUrl);
  await attempt('file', async () => {
    check((await summary(page)).includes('orders'), 'file: the single file shows the example plan with no server');
    await page.fill('#f-db', 'postgresql@14.3');
    check(await planWarns(page, 'pg14-cic-corruption'), 'file: re-plans as one types');
    await page.fill('#f-db', 'postgresql@16.4');
    await page.fill('#f-rows', 'lots');
    check(await until(page, () => document.querySelector('#e-rows')?.textContent.includes('500M'), null, 'file rows error'), 'file: validation names the field');
    await page.fill('#f-rows', '500M');
    await downloads(page, 'file');
    await page.locator('.phases .step button.copy').first().click();
    check((await clipboard(page)).length > 10, 'file: copy works');
    const link = await page.inputValue('#share-link');
    check(link.startsWith('file://') && link.includes('?v=1&db=postgresql@16.4'), 'file: the share link is this file with the inputs');
    await page.fill('#f-table', 'Orders"; drop table x; --');
    const hostile = await page.inputValue('#share-link');
    const again = await context.newPage();
    watch(again, local, problems);
    await again.goto(hostile);
    await summary(again);
    check((await again.inputValue('#f-table')) === 'Orders"; drop table x; --'
      && (await again.locator('.phases pre', { hasText: 'CREATE INDEX CONCURRENTLY' }).first().innerText()).includes('ON "Orders""; drop table x; --"'),
      'file: a link with a hostile table name restores it, quoted in the SQL');
    await again.close();
    await page.emulateMedia({ media: 'print' });
    check(await page.locator('form.request').isHidden(), 'file: the print stylesheet is inlined too');
    await page.emulateMedia({ media: 'screen' });
    await axe(page, 'in the single file');
  });
  check(problems.length === 0, `file: no console error, exception or foreign request${problems.length ? ` (${problems.join('; ')})` : ''}`);
  await context.close();
}

await browser.close();
console.log(`browser tests: ${passed} passed, ${failures.length} failed (screenshots in target/browser/)`);
if (failures.length) process.exit(1);
