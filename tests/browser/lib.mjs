// What the browser scripts share: Chromium launched for a closed network, a page that collects
// console errors (CSP violations among them), axe-core's check and the screenshots.
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

export const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};

export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // This machine's network is closed: no background traffic, no updates, no sync.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// A new context (cookies) and page of `browser`, with the errors it logs.
export const open = async (browser, width = 1280) => {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return { context, page, errors };
};

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// axe-core in the page (evaluated through the DevTools protocol, which the CSP does not
// govern): no serious or critical violation.
export const accessible = async (page, name, log) => {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(' ')}`), [],
    `${name}: accessibility violations`);
  log(`${name}: axe-core found ${result.violations.length} violations, none serious or critical`);
};

// Screenshots of the page at 1280 and 390 px into `dir`; and nothing wider than a 320 px
// screen (wide tables scroll in their own box).
export const shoot = async (page, dir, name) => {
  mkdirSync(dir, { recursive: true });
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const tall = await page.evaluate(() => document.documentElement.scrollHeight > 4000);
    await page.screenshot({ path: `${dir}/${name}-${width}.png`, fullPage: !tall });
  }
  await page.setViewportSize({ width: 320, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  // What sticks out, to say where to look.
  const wide = overflow <= 0 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    // Inside a box that scrolls on its own, sticking out is allowed.
    .filter((e) => !e.parentElement.closest('.scroll'))
    .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`));
  assert.ok(overflow <= 0, `${name}: ${overflow} px wider than a 320 px screen: ${wide.join(', ')}`);
  await page.setViewportSize({ width: 1280, height: 900 });
};
