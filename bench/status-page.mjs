// See bench/status-page. Prints one line per round and a summary; traffic stays on loopback.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7;
const SOURCES = 2000;

const freePort = () => new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});

// A release server on a fresh SQLite store, with a test allowance for 2,000 new destinations.
const dir = mkdtempSync(join(tmpdir(), 'jackal-bench-ui-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const key = { id: randomUUID(), secret: `bench-${randomUUID()}` };
writeFileSync(join(dir, 'config.toml'), '[limits]\ntests_per_minute = 100000\ntests_burst = 100000\n');
const server = spawn('target/release/jackal', ['--config', join(dir, 'config.toml')], {
  env: { ...process.env, JACKAL_LISTEN: `127.0.0.1:${port}`, JACKAL_STORE: join(dir, 'jackal.db'),
    JACKDB_API_KEY_ID: key.id, JACKDB_API_KEY_SECRET: key.secret, RUST_LOG: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const auth = `Basic ${Buffer.from(`${key.id}@api:${key.secret}`).toString('base64')}`;
const api = (method, path, body) => fetch(`${base}/api/v2${path}`, {
  method, body, headers: { Authorization: auth, 'User-Agent': 'bench', Accept: 'application/json',
    ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
});
for (let i = 0; ; i += 1) {
  try { if ((await fetch(`${base}/readyz`)).ok) break; } catch (_) { /* not yet */ }
  if (i > 100) throw new Error('the server did not start');
  await new Promise((r) => setTimeout(r, 100));
}

// 2,000 data sources at closed ports, each tested twice: every row has an error, a message
// and a sparkline.
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next < SOURCES) {
    const n = next++;
    const form = new URLSearchParams({ name: `Data source ${String(n).padStart(4, '0')}`,
      configUri: `postgresql://app@127.0.0.${1 + (n % 200)}:${1 + (n % 7)}/db${n}` });
    const res = await api('POST', '/data-source', form.toString());
    if (!res.ok) throw new Error(`create: ${res.status} ${await res.text()}`);
  }
}));
for (let i = 0; i < 2; i += 1) {
  const res = await api('POST', '/test-run');
  if (!res.ok) throw new Error(`test-run: ${res.status}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// Signs in at `origin` and returns the fleet page's navigation timing (from the form's
// submission, through the redirect, to the load event).
const signIn = async (origin) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${origin}/ui/sign-in`);
  await page.fill('#key-id', key.id);
  await page.fill('#secret', key.secret);
  await Promise.all([page.waitForURL(`${origin}/ui/`), page.click('form[action="/ui/sign-in"] button')]);
  await page.waitForLoadState('load');
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return { load: nav.loadEventEnd, paint: paint ? paint.startTime : NaN, bytes: nav.decodedBodySize,
      rows: document.querySelectorAll('#fleet tbody tr').length };
  });
  await context.close();
  return timing;
};

// The floor: the same bytes from a static server, behind the same form and redirect.
const first = await signIn(base);
if (first.rows !== SOURCES) throw new Error(`${first.rows} rows`);
const captured = {};
const cookieless = { Authorization: auth };
for (const path of ['/ui/sign-in', '/ui/assets/app.css', '/ui/assets/app.js', '/ui/assets/icon.svg']) {
  const res = await fetch(`${base}${path}`, { headers: cookieless });
  captured[path] = { type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}
const signInCtx = await browser.newContext();
const p = await signInCtx.newPage();
await p.goto(`${base}/ui/sign-in`);
await p.fill('#key-id', key.id);
await p.fill('#secret', key.secret);
await Promise.all([p.waitForURL(`${base}/ui/`), p.click('form[action="/ui/sign-in"] button')]);
const fleetBytes = await p.evaluate(async () => (await fetch('/ui/')).text());
await signInCtx.close();
captured['/ui/'] = { type: 'text/html; charset=utf-8', body: Buffer.from(fleetBytes) };
const floor = createServer((req, res) => {
  if (req.method === 'POST') {
    req.resume();
    req.on('end', () => { res.writeHead(303, { Location: '/ui/' }); res.end(); });
    return;
  }
  const path = req.url === '/ui' ? '/ui/' : req.url;
  const found = captured[path];
  if (!found) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': found.type, 'Cache-Control': 'no-cache' });
  res.end(found.body);
});
const floorPort = await freePort();
await new Promise((r) => floor.listen(floorPort, '127.0.0.1', r));
const floorBase = `http://127.0.0.1:${floorPort}`;

const median = (values) => {
  const xs = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};
const jackal = []; const floors = []; const paints = [];
console.log(`fleet of ${SOURCES}: ${fleetBytes.length} bytes of HTML; ${rounds} rounds, alternating`);
for (let round = 1; round <= rounds; round += 1) {
  const order = round % 2 ? ['jackal', 'floor'] : ['floor', 'jackal'];
  const got = {};
  for (const which of order) got[which] = await signIn(which === 'jackal' ? base : floorBase);
  jackal.push(got.jackal.load); floors.push(got.floor.load); paints.push(got.jackal.paint);
  console.log(`round ${round}: jackal load ${got.jackal.load.toFixed(0)} ms (first paint ${got.jackal.paint.toFixed(0)} ms), floor load ${got.floor.load.toFixed(0)} ms, ratio ${(got.jackal.load / got.floor.load).toFixed(2)}`);
}
const ratios = jackal.map((j, i) => j / floors[i]);
console.log(`median: jackal load ${median(jackal).toFixed(0)} ms, first paint ${median(paints).toFixed(0)} ms, floor load ${median(floors).toFixed(0)} ms, ratio ${median(ratios).toFixed(2)} (range ${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)})`);
await browser.close();
floor.close();
server.kill();
rmSync(dir, { recursive: true, force: true });
