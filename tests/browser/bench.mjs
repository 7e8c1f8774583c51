// Page benchmark of the RELEASE build (dist/) in headless Chromium on loopback. Prints numbers,
// never fails on them (targets: < 250 KB gzipped in total, first plan < 300 ms, update < 16 ms):
//   1. what a first visit loads: every file the server is asked for (page and service worker),
//      raw and gzipped (level 9);
//   2. cold load to first plan: fresh browser context (no cache, no service worker), from
//      navigation start to the plan in the DOM, and to the next frame after it;
//   3. input change to updated timeline: set a field and fire `input`, until the re-planned
//      plan is in the DOM and laid out (microtasks drained, forced layout).
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serve } from '../../scripts/serve.mjs';

const runs = Number(process.env.BENCH_RUNS || 9);
const executablePath = process.env.CHROMIUM
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const dist = resolve('dist');
const server = await serve(dist, 0, '127.0.0.1');
const origin = `http://127.0.0.1:${server.address().port}`;
const asked = [];
server.on('request', (req) => asked.push(new URL(req.url, origin).pathname.replace(/\/$/, '/index.html')));

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const ms = (n) => `${n.toFixed(1)} ms`;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `median ${ms(at(0.5))}  p90 ${ms(at(0.9))}  min ${ms(s[0])}  max ${ms(s[s.length - 1])}  (n=${s.length})`;
};

// Records when the plan first enters the DOM, and the frame after.
const observe = () => {
  window.__firstPlan = null;
  new MutationObserver((_, observer) => {
    if (!document.querySelector('.plan .phases')) return;
    observer.disconnect();
    window.__firstPlan = { dom: performance.now(), frame: null };
    requestAnimationFrame(() => { window.__firstPlan.frame = performance.now(); });
  }).observe(document, { childList: true, subtree: true });
};

// 1 and 2: cold loads, each in a fresh context.
const dom = [];
const frame = [];
const boot = [];
const wasm = [];
const firstVisit = [];
for (let i = 0; i < runs; i += 1) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(observe);
  if (i === 0) asked.length = 0;
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.__firstPlan?.frame, null, { timeout: 30000 });
  const t = await page.evaluate(() => ({
    ...window.__firstPlan,
    boot: performance.getEntriesByName('lockstep-boot')[0]?.startTime,
    wasm: performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'))?.responseEnd,
  }));
  dom.push(t.dom);
  frame.push(t.frame);
  boot.push(t.boot);
  wasm.push(t.wasm);
  if (i === 0) {
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForTimeout(300);
    firstVisit.push(...asked);
  }
  await context.close();
}

const files = [...new Set(firstVisit)].map((path) => {
  const data = readFileSync(join(dist, path));
  return { path, raw: data.length, gz: gzipSync(data, { level: 9 }).length };
});
console.log('Lockstep page benchmark (release build, headless Chromium, loopback)\n');
console.log('What a first visit loads (every file the server was asked for, page and service worker):');
for (const f of files.sort((a, b) => b.gz - a.gz)) {
  console.log(`  ${f.path.padEnd(40)} ${kb(f.raw).padStart(10)} raw ${kb(f.gz).padStart(10)} gzipped`);
}
const total = files.reduce((a, f) => ({ raw: a.raw + f.raw, gz: a.gz + f.gz }), { raw: 0, gz: 0 });
console.log(`  ${'total'.padEnd(40)} ${kb(total.raw).padStart(10)} raw ${kb(total.gz).padStart(10)} gzipped   (target < 250 KB)`);
console.log(`  (requests: ${firstVisit.length}, ${files.length} distinct; dist/lockstep.html, the single file, is not loaded by the page)\n`);
console.log('Cold load to first plan (fresh context: no HTTP cache, no service worker):');
console.log(`  plan in the DOM       ${stats(dom)}   (target < 300 ms)`);
console.log(`  of which: boot script starts   ${stats(boot)}`);
console.log(`            wasm downloaded      ${stats(wasm)}`);
console.log(`  first frame after it  ${stats(frame)}\n`);

// 3: input change to updated timeline, for a small and a large plan.
const context = await browser.newContext();
const page = await context.newPage();
const scenarios = [
  ['add-index (example, 2 phases)', ''],
  ['change-type integer -> bigint (large plan)', '?v=1&db=postgresql@16&change=change-type&table=orders&column=id&from-type=integer&to-type=bigint&rows=500M&size=120GB&max-downtime=0'],
];
console.log('Input change to updated timeline (value set + input event -> new plan in the DOM, laid out):');
for (const [name, query] of scenarios) {
  await page.goto(`${origin}/${query}`);
  await page.waitForSelector('.plan .phases', { timeout: 30000 });
  await page.waitForTimeout(1000); // let background compilation (wasm tier-up) settle: steady typing
  const times = await page.evaluate(async (n) => {
    const input = document.getElementById('f-rows');
    const plan = () => document.querySelector('.plan-wrap').textContent;
    const macrotask = () => new Promise((ok) => { const c = new MessageChannel(); c.port1.onmessage = ok; c.port2.postMessage(0); });
    const out = [];
    // Warm-up (JIT tiers, caches), not measured.
    for (let i = 0; i < 10; i += 1) {
      input.value = i % 2 ? '500M' : '640M';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await macrotask();
    }
    for (let i = 0; i < n; i += 1) {
      const before = plan();
      await macrotask();
      const t0 = performance.now();
      input.value = i % 2 ? '500M' : '640M';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await macrotask();
      void document.body.offsetHeight;
      const t1 = performance.now();
      if (plan() === before) throw new Error('the plan did not change');
      out.push(t1 - t0);
    }
    return out;
  }, runs * 4);
  const steps = await page.locator('.phases .step').count();
  console.log(`  ${name}, ${steps} steps: ${stats(times)}   (target < 16 ms)`);
}
await context.close();
await browser.close();
server.close();
