// The status page in a real browser (Debian's Chromium, driven by playwright-core): sign in,
// the fleet with a failing and a passing data source (host, down since, the error code
// filter, the refresh without a reload, paused while the tab is hidden), Test now, Test all,
// a data source's page (its certificate as a table, its phases drawn with their times), the
// audit trail (who, what, each change; no sideways scrolling at 390 px), sign out, a wrong key
// and the lockout. Screenshots of each page at 1280 and 390 px, axe-core on each page, no
// console error, and the fleet page's time with 2,000 data sources. Started by
// tests/api/ui_browser.rs, which runs the servers and passes them in the environment; exits
// non-zero on the first failed check.
import assert from 'node:assert/strict';
import { env, launch, open as openIn, accessible as axeCheck, shoot as shootInto } from './lib.mjs';

const base = env('JACKAL_URL');
const keyId = env('JACKAL_KEY_ID');
const secret = env('JACKAL_KEY_SECRET');
const upId = env('JACKAL_UP');
const downId = env('JACKAL_DOWN');
const bigBase = env('JACKAL_BIG_URL');
const screenshots = env('JACKAL_SCREENSHOTS');

const browser = await launch();

const step = (what) => console.log(`browser: ${what}`);

// One browser context (cookies) per server; console errors and CSP violations collected.
const open = (width = 1280) => openIn(browser, width);
const accessible = (page, name) => axeCheck(page, name, step);
// At 1280 and 390 px; and nothing wider than a 320 px screen.
const shoot = (page, name) => shootInto(page, screenshots, name);

const signIn = async (page, server, id, key) => {
  await page.goto(`${server}/ui/`);
  assert.match(page.url(), /\/ui\/sign-in$/, 'not signed in: the form');
  await page.fill('#key-id', id);
  await page.fill('#secret', key);
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/ui/sign-in"] button')]);
};

// A fleet row's cell by position: name, host, status, down since, last test, error,
// duration, sparkline.
const COLUMN = { name: 1, host: 2, status: 3, since: 4, tested: 5, error: 6 };
const cell = (page, id, column) => page.locator(`tr[id="${id}"] td:nth-child(${COLUMN[column]})`);
const rowStatus = (page, id) => cell(page, id, 'status').textContent();

// A change made through the API (not the page), as another admin or a script would make it.
const api = async (method, path, form) => {
  const response = await fetch(`${base}/api/v2${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${keyId}@api:${secret}`).toString('base64')}`,
      Accept: 'application/vnd.jackdb.v2+json',
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const body = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${body}`);
  return JSON.parse(body);
};

// The page's view of whether it is shown (a headless tab always is): hidden or shown again,
// with the event a browser sends.
const setHidden = (page, hidden) => page.evaluate((value) => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (value ? 'hidden' : 'visible') });
  document.dispatchEvent(new Event('visibilitychange'));
}, hidden);

// No sideways scrolling at this width: neither the page nor the table's own box.
const fits = async (page, name, selector) => {
  const over = await page.evaluate((sel) => [document.documentElement, document.querySelector(sel)]
    .map((el) => el.scrollWidth - el.clientWidth), selector);
  assert.deepEqual(over.map((o) => o <= 0), [true, true], `${name}: ${over} px too wide`);
};

try {
  const { context, page, errors } = await open();

  step('sign in');
  await page.goto(`${base}/ui/`);
  assert.match(page.url(), /\/ui\/sign-in$/);
  await accessible(page, 'sign-in');
  await shoot(page, 'sign-in');
  await page.fill('#key-id', keyId);
  await page.fill('#secret', secret);
  await Promise.all([page.waitForURL(`${base}/ui/`), page.click('form[action="/ui/sign-in"] button')]);
  assert.equal(await page.locator('h1').textContent(), 'Fleet');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'jackal_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict cookie');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the cookie is out of scripts\' reach');

  step('the fleet: the failing one first, the other never tested');
  assert.equal(await page.locator('tbody tr').first().getAttribute('id'), downId);
  assert.equal(await rowStatus(page, downId), 'Down');
  assert.match(await cell(page, downId, 'error').textContent(), /refused/);
  assert.equal(await rowStatus(page, upId), 'Never tested');
  assert.equal(await page.locator('#n-down').textContent(), '1');
  step('the fleet: host and port, and since when the failing one is down');
  assert.equal(await cell(page, downId, 'host').textContent(), '127.0.0.1:1');
  assert.equal(await cell(page, upId, 'host').textContent(), '127.0.0.1:5432');
  const downSince = await cell(page, downId, 'since').textContent();
  assert.match(downSince, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.equal(downSince, await cell(page, downId, 'tested').textContent(), 'one failure: down since it');
  assert.equal(await cell(page, upId, 'since').textContent(), '');

  step('the fleet: one error code');
  await page.selectOption('#code', 'refused');
  await Promise.all([page.waitForURL(`${base}/ui/?code=refused`), page.click('.code-filter button')]);
  assert.equal(await page.locator('#fleet tbody tr').count(), 1);
  assert.equal(await page.locator('#fleet tbody tr').first().getAttribute('id'), downId);
  assert.equal(await page.locator('#n-total').textContent(), '2', 'the counts are the whole fleet\'s');
  await page.selectOption('#code', '');
  await Promise.all([page.waitForURL(`${base}/ui/?code=`), page.click('.code-filter button')]);
  assert.equal(await page.locator('#fleet tbody tr').count(), 2);

  step('Test now: the status changes');
  await page.locator(`tr[id="${upId}"] button.test`).click();
  await page.waitForFunction((id) => document.getElementById(id).cells[2].textContent === 'Up', upId);
  assert.equal(await page.locator('#n-up').textContent(), '1');
  assert.equal(await page.locator('#n-never').textContent(), '0');

  step('the filter box');
  await page.fill('#filter', 'closed');
  assert.equal(await page.locator('tbody tr:visible').count(), 1);
  await page.fill('#filter', '');
  assert.equal(await page.locator('tbody tr:visible').count(), 2);

  step('Test all: results arrive as they finish');
  const before = await cell(page, upId, 'tested').textContent();
  await page.waitForTimeout(1100); // so a new test's time differs to the second
  await page.click('#test-all');
  await page.waitForFunction(() => document.getElementById('run-status').textContent.startsWith('Done'));
  assert.equal(await page.locator('#run-progress').getAttribute('max'), '2');
  assert.equal(await page.evaluate(() => document.getElementById('run-progress').value), 2);
  assert.match(await page.locator('#run-status').textContent(), /1 up, 1 down, 0 skipped/);
  assert.notEqual(await cell(page, upId, 'tested').textContent(), before);
  // Down since its first failure, not its last.
  assert.equal(await cell(page, downId, 'since').textContent(), downSince);

  step('the fleet refreshes itself: a change made through the API shows without a reload');
  await page.goto(`${base}/ui/?refresh=1`);
  await page.evaluate(() => { window.notReloaded = true; });
  await api('PATCH', `/data-source/${upId}`, { name: 'Local PostgreSQL (renamed)' });
  await page.waitForFunction((id) => document.getElementById(id).cells[0].textContent.includes('(renamed)'), upId);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the rows changed in place');
  assert.match(await page.locator('#refreshed').textContent(), /^Refreshed at /);
  step('the fleet: no refresh while the tab is hidden, one as soon as it is shown');
  await setHidden(page, true);
  await page.waitForTimeout(300); // a fetch already under way lands
  await api('PATCH', `/data-source/${upId}`, { name: 'Local PostgreSQL' });
  await page.waitForTimeout(2500);
  assert.match(await cell(page, upId, 'name').textContent(), /\(renamed\)/, 'hidden: not refreshed');
  await setHidden(page, false);
  await page.waitForFunction((id) => !document.getElementById(id).cells[0].textContent.includes('(renamed)'), upId);
  assert.equal(await page.evaluate(() => window.notReloaded), true);

  await page.goto(`${base}/ui/`);
  assert.equal(await page.locator('#refreshed').getAttribute('data-every'), '30', 'every 30 s unless asked');
  await accessible(page, 'fleet');
  await shoot(page, 'fleet');

  step('a data source: its status, phases, certificate and history');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/${upId}`), page.click(`tr[id="${upId}"] a`)]);
  assert.equal(await page.locator('.badge.up').textContent(), 'Up', 'the badge in the fleet\'s colours');
  const badge = await page.locator('.badge').evaluate((el) => getComputedStyle(el).color);
  assert.equal(badge, 'rgb(22, 101, 52)', 'the fleet\'s green');
  const phases = await page.locator('.phases tbody tr').count();
  assert.ok(phases >= 4, 'the phases');
  assert.equal(await page.locator('.waterfall rect').count(), phases);
  // Each phase's name and time written in the chart.
  const labels = await page.locator('.waterfall svg text').allTextContents();
  assert.equal(labels.length, 2 * phases);
  assert.ok(labels.includes('connect'), labels.join(' | '));
  assert.ok(labels.filter((t) => / ms$/.test(t)).length === phases, labels.join(' | '));
  // The server's certificate as a labelled table.
  const certificate = Object.fromEntries(await page.locator('#server-certificate tr').evaluateAll(
    (rows) => rows.map((r) => [r.querySelector('th').textContent, r.querySelector('td').textContent])));
  for (const label of ['Subject', 'Names', 'Issuer', 'Valid until', 'Days left', 'Fingerprint (SHA-256)']) {
    assert.ok(certificate[label], `${label} in ${JSON.stringify(certificate)}`);
  }
  assert.match(certificate['Fingerprint (SHA-256)'], /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(await page.locator('.history-table tbody tr').count(), 2, 'two tests in the history');
  step('refresh the schema: the tree');
  await Promise.all([page.waitForLoadState('load'), page.click('button.refresh')]);
  await page.locator('.tree summary').first().waitFor();
  await page.locator('.tree summary').first().click();
  await accessible(page, 'data source');
  await shoot(page, 'data-source');

  step('the audit trail');
  await page.click('nav a[href="/ui/audit"]');
  await page.waitForURL(`${base}/ui/audit`);
  assert.match(await page.locator('#audit tbody tr').first().textContent(), /data_source\.introspect/);
  assert.equal(await page.locator('#audit tbody tr').count(), 100, 'the newest 100 first');
  step('the audit trail: who, what (linked), and each change before → after');
  const renamed = page.locator('#audit tbody tr', { hasText: 'data_source.update' }).first();
  const who = await renamed.locator('td:nth-child(3)').textContent();
  assert.ok(who.startsWith(`${await page.locator('.who').textContent()} from 127.0.0.1`), `who: the key's name, not ${who}`);
  assert.equal(await renamed.locator(`td:nth-child(5) a[href="/ui/data-source/${upId}"]`).textContent(), 'Local PostgreSQL');
  assert.equal(await renamed.locator('.changes li').first().textContent(),
    'name: Local PostgreSQL (renamed) → Local PostgreSQL');
  assert.equal(await page.locator('#audit td:has-text("{")').count(), 0, 'no raw JSON');
  await accessible(page, 'audit trail');
  await shoot(page, 'audit');
  await page.setViewportSize({ width: 390, height: 900 });
  await fits(page, 'the audit trail at 390 px', '#audit');
  await fits(page, 'the audit trail\'s box at 390 px', '.scroll');
  await page.setViewportSize({ width: 1280, height: 900 });
  step('the audit trail: older events as its end scrolls into view');
  await page.locator('#more').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('more').textContent === 'The beginning of the trail.');
  const events = await page.locator('#audit tbody tr').count();
  assert.ok(events > 100, `${events} events after scrolling`);
  assert.match(await page.locator('#audit tbody tr').last().textContent(), /data_source\.create/);

  step('sign out');
  await Promise.all([page.waitForURL(`${base}/ui/sign-in`), page.click('.sign-out button')]);
  await page.goto(`${base}/ui/`);
  assert.match(page.url(), /\/ui\/sign-in$/, 'signed out: back to the form');
  assert.deepEqual(errors, [], 'console errors (CSP violations among them)');

  step('2,000 data sources: the fleet page after sign-in');
  const big = await open();
  await big.page.goto(`${bigBase}/ui/`);
  await big.page.fill('#key-id', keyId);
  await big.page.fill('#secret', secret);
  await Promise.all([big.page.waitForURL(`${bigBase}/ui/`), big.page.click('form[action="/ui/sign-in"] button')]);
  await big.page.waitForLoadState('load');
  const timing = await big.page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return { load: nav.loadEventEnd, response: nav.responseEnd, paint: paint ? paint.startTime : null,
      bytes: nav.decodedBodySize, rows: document.querySelectorAll('#fleet tbody tr').length };
  });
  assert.equal(timing.rows, 2000);
  console.log(`browser: fleet of 2000 after sign-in: response ${timing.response.toFixed(0)} ms, first paint ${timing.paint?.toFixed(0)} ms, load ${timing.load.toFixed(0)} ms, ${timing.bytes} bytes of HTML`);
  const filtered = Date.now();
  await big.page.fill('#filter', 'Data source 1999');
  console.log(`browser: filtering 2000 rows took ${Date.now() - filtered} ms`);
  // Down since, for each of them (every one failed twice).
  assert.equal(await big.page.locator('#fleet tbody tr td:nth-child(4):not(:empty)').count(), 2000);
  // A refresh of all 2,000 rows: fetched, parsed, the table replaced, the filter kept.
  await big.page.goto(`${bigBase}/ui/?refresh=1`);
  await big.page.fill('#filter', 'Data source 1999');
  const refreshing = Date.now();
  await big.page.waitForFunction(() => document.getElementById('refreshed').textContent.startsWith('Refreshed at'));
  const fragment = await big.page.evaluate(() => {
    const entry = performance.getEntriesByType('resource').find((e) => e.name.includes('/ui/fleet?'));
    return { ms: entry.duration, bytes: entry.decodedBodySize };
  });
  console.log(`browser: refreshing 2000 rows: ${fragment.bytes} bytes fetched in ${fragment.ms.toFixed(0)} ms, shown ${Date.now() - refreshing} ms after the page was`);
  assert.equal(await big.page.locator('#fleet tbody tr:visible').count(), 1, 'the filter box still applies');
  assert.deepEqual(big.errors, []);

  step('a wrong key: an error, then the lockout');
  const wrong = await open(390);
  let blocked = false;
  for (let attempt = 1; attempt <= 10 && !blocked; attempt += 1) {
    await signIn(wrong.page, base, keyId, 'not-the-secret-at-all');
    const alert = await wrong.page.locator('#sign-in-error').textContent();
    if (attempt === 1) {
      assert.match(alert, /do not match an active key/);
      await shoot(wrong.page, 'sign-in-error');
    }
    blocked = /Too many failed sign-ins/.test(alert);
  }
  assert.ok(blocked, 'repeated wrong keys lock the address out');
  await signIn(wrong.page, base, keyId, secret);
  assert.match(await wrong.page.locator('#sign-in-error').textContent(), /Too many failed sign-ins/,
    'even the right key is refused while locked out');
  step('all checks passed');
} finally {
  await browser.close();
}
