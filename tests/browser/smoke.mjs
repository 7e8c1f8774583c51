// Browser smoke test of the RELEASE build in headless Chromium:
//   1. dist/index.html served over http on loopback (then offline, from the service worker);
//   2. dist/lockstep.html opened from file:// with no server.
// Each fills the form and must see the plan. Fails on any console error, uncaught exception,
// or request to an origin other than the page's own. Writes DOM dumps and screenshots to
// target/browser/.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { serve } from '../../scripts/serve.mjs';

const executablePath = process.env.CHROMIUM
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
if (!executablePath) throw new Error('no Chromium found: run scripts/setup.sh browser');
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

// Records console errors, page errors and foreign requests for one page.
function watch(page, allowed) {
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on('request', (r) => { if (!allowed(r.url())) problems.push(`request to another origin: ${r.url()}`); });
  return problems;
}

async function fillAndSee(page, label) {
  await page.waitForSelector('.plan .summary', { timeout: 30000 });
  await page.selectOption('select[name=change]', 'add-index');
  await page.fill('input[name=db]', 'postgresql@14.3');
  await page.fill('input[name=table]', 'Orders"; drop table x; --');
  await page.fill('input[name=columns]', 'customer_id');
  await page.fill('input[name=rows]', '500M');
  await page.fill('input[name=size]', '120GB');
  await page.fill('input[name=max-downtime]', '0');
  const build = page.locator('.step pre', { hasText: 'CREATE INDEX CONCURRENTLY' });
  await build.first().waitFor({ timeout: 10000 });
  const sql = await build.first().innerText();
  check(sql.includes('CREATE INDEX CONCURRENTLY IF NOT EXISTS "Orders""; drop table x; --_customer_id_idx" ON "Orders""; drop table x; --" USING btree (customer_id);'),
    `${label}: the plan shows the concurrent build with the hostile name quoted`);
  check((await page.locator('.warnings').innerText()).includes('pg14-cic-corruption'), `${label}: the 14.3 warning is shown`);
  check((await page.locator('.badge.ok').count()) > 0, `${label}: lock badges are rendered`);

  // Bad input: a clear message naming the field, and the typed text stays.
  await page.fill('input[name=rows]', 'lots');
  const error = page.locator('.field-error');
  await error.first().waitFor({ timeout: 5000 });
  check((await error.first().innerText()).includes('500M'), `${label}: a bad row count gets a message saying what is accepted`);
  check((await page.inputValue('input[name=rows]')) === 'lots', `${label}: the typed text is kept`);
  await page.fill('input[name=rows]', '500M');
  await build.first().waitFor({ timeout: 5000 });

  // Every change type renders a plan or names the fields it still needs; none crashes the page.
  const kinds = await page.locator('select[name=change] option').evaluateAll((os) => os.map((o) => o.value));
  const rendered = [];
  for (const kind of kinds) {
    await page.selectOption('select[name=change]', kind);
    await page.locator('.plan .summary, .problems').first().waitFor({ timeout: 5000 });
    rendered.push(kind);
  }
  check(rendered.length === 12, `${label}: all ${rendered.length} change types render a plan or their missing fields`);
  await page.selectOption('select[name=change]', 'add-index');
  await build.first().waitFor({ timeout: 5000 });
  check((await page.inputValue('input[name=columns]')) === 'customer_id', `${label}: switching change types keeps what was typed`);

  writeFileSync(`${out}/${label}.html`, await page.content());
  await page.screenshot({ path: `${out}/${label}.png`, fullPage: false });
  return page.locator('.toolbar .share input').inputValue();
}

// 1. Over http.
const server = await serve(resolve('dist'), 0, '127.0.0.1');
const origin = `http://127.0.0.1:${server.address().port}`;
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page, (u) => u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:'));
  await page.goto(`${origin}/index.html`);
  const link = await fillAndSee(page, 'http');
  check(link.includes('v=1&db=postgresql%4014.3&change=add-index'), 'http: the share link carries the inputs');

  // The share link reproduces the page in a fresh tab.
  const again = await context.newPage();
  problems.push(...watch(again, (u) => u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')));
  await again.goto(link);
  await again.waitForSelector('.plan .summary', { timeout: 30000 });
  check((await again.inputValue('input[name=table]')) === 'Orders"; drop table x; --', 'http: opening the share link restores the inputs');

  // Downloads come from memory, not the network.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Markdown')]);
  const path = await download.path();
  const { readFileSync } = await import('node:fs');
  check(readFileSync(path, 'utf8').startsWith('# Lockstep runbook'), 'http: the Markdown download is the runbook');

  // Offline: once the service worker has cached the build, the page works without the server.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  const online = await page.locator('.plan .summary').innerText({ timeout: 30000 });
  await context.setOffline(true);
  await page.reload();
  const offline = await page.locator('.plan .summary').innerText({ timeout: 30000 }).catch((e) => `failed: ${e.message}`);
  check(offline === online, `http: the page reloads offline from the service worker cache (${offline})`);
  await context.setOffline(false);

  check(problems.length === 0, `http: no console error, exception or foreign request${problems.length ? ` (${problems.join('; ')})` : ''}`);
  await context.close();
}
server.close();

// 2. The single file from file://.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page, (u) => u.startsWith('file:') || u.startsWith('data:') || u.startsWith('blob:'));
  await page.goto(`file://${resolve('dist/lockstep.html')}`);
  await fillAndSee(page, 'file');
  check(problems.length === 0, `file: no console error, exception or foreign request${problems.length ? ` (${problems.join('; ')})` : ''}`);
  await context.close();
}

await browser.close();
console.log(`browser smoke test: ${passed} passed, ${failures.length} failed`);
if (failures.length) process.exit(1);
