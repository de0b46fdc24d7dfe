// The console's forms in a real browser (Debian's Chromium, driven by playwright-core): a data
// source created through the form with a password, an SSH key and a client certificate
// (files and pasted text), tested before saving; its name edited (the secrets stay); its host
// changed (the form warns, the secrets go); access granted and revoked; deleted. Each step is
// checked through the API. Screenshots of each new page at 1280 and 390 px, axe-core on each,
// no console error (a CSP violation is one). Started by tests/api/ui_browser.rs, which runs
// the server and passes the live servers' addresses and fixtures in the environment.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { env, launch, open, accessible, shoot } from './lib.mjs';

const base = env('JACKAL_URL');
const keyId = env('JACKAL_KEY_ID');
const secret = env('JACKAL_KEY_SECRET');
const db = { host: env('JACKAL_DB_HOST'), port: env('JACKAL_DB_PORT'), name: env('JACKAL_DB_NAME'), user: env('JACKAL_DB_USER') };
const ssh = { host: env('JACKAL_SSH_HOST'), port: env('JACKAL_SSH_PORT'), user: env('JACKAL_SSH_USER'), hostKey: env('JACKAL_SSH_HOST_KEY') };
const files = { sshKey: env('JACKAL_SSH_KEY_FILE'), cert: env('JACKAL_CLIENT_CERT_FILE'), key: env('JACKAL_CLIENT_KEY_FILE'), ca: env('JACKAL_CA_FILE') };
const screenshots = env('JACKAL_SCREENSHOTS');
// Unused by the server's `cert` rule, but stored and kept like any password.
const PASSWORD = 'Br0wser-Form-Pw';

const step = (what) => console.log(`console: ${what}`);
const check = async (page, name) => {
  await accessible(page, name, step);
  await shoot(page, screenshots, name);
};

// The API, as curl would call it, to check what each step did.
const api = async (method, path, form) => {
  const response = await fetch(`${base}/api/v2${path}`, {
    method,
    headers: {
      'User-Agent': 'jackal-browser-test/1.0',
      Accept: 'application/vnd.jackdb.v2+json',
      Authorization: `Basic ${Buffer.from(`${keyId}@api:${secret}`).toString('base64')}`,
      ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form,
  });
  return { status: response.status, body: await response.json() };
};
const dataSource = async (id) => (await api('GET', `/data-source/${id}`)).body;
const storedUri = async (id) => (await api('GET', `/data-source/${id}/detail`)).body.configUri;

const browser = await launch();
try {
  const { page, errors } = await open(browser);

  step('sign in');
  await page.goto(`${base}/ui/`);
  await page.fill('#key-id', keyId);
  await page.fill('#secret', secret);
  await Promise.all([page.waitForURL(`${base}/ui/`), page.click('form[action="/ui/sign-in"] button')]);

  step('the new form: the API\'s message for a missing name');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/new`), page.click('nav a[href="/ui/data-source/new"]')]);
  await page.click('#save');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.match(await page.locator('#form-error').textContent(), /name is required/);
  // Chromium logs the refused request itself; that one is expected, and only that one.
  assert.deepEqual(errors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
  errors.length = 0;

  step('paste a URI: the fields fill; the preview hides the password');
  const pasted = `postgresql://${db.user}:${PASSWORD}@${db.host}:${db.port}/${db.name}?ssl=true&validateSsl=yes`
    + `&sshHost=${ssh.host}&sshPort=${ssh.port}&sshUser=${ssh.user}`;
  await page.fill('#f-paste', pasted);
  await page.click('#fill');
  assert.equal(await page.inputValue('#f-host'), db.host);
  assert.equal(await page.inputValue('#f-port'), db.port);
  assert.equal(await page.inputValue('#f-database'), db.name);
  assert.equal(await page.inputValue('#f-password'), PASSWORD);
  assert.equal(await page.isChecked('#f-validate'), true);
  assert.equal(await page.inputValue('#f-ssh-user'), ssh.user);
  assert.equal(await page.inputValue('#f-paste'), '', 'the box that held the password is emptied');
  // The host key typed by hand: its + and / are escaped in configUri.
  await page.fill('#f-ssh-host-key', ssh.hostKey);
  await page.fill('#f-name', 'Ledger through the bastion');
  await page.fill('#f-alias', 'ledger');
  const preview = await page.locator('#uri-preview').textContent();
  assert.ok(!preview.includes(PASSWORD) && preview.includes('sshHostKey=SHA256'), preview);
  await check(page, 'data-source-new');

  step('the secrets: an SSH key and a client certificate and key from files, the CA pasted');
  await page.setInputFiles('input[data-into="f-ssh-key"]', files.sshKey);
  await page.setInputFiles('input[data-into="f-ssl-cert"]', files.cert);
  await page.setInputFiles('input[data-into="f-ssl-key"]', files.key);
  await page.fill('#f-ssl-root', readFileSync(files.ca, 'utf8'));
  await page.waitForFunction(() => ['f-ssh-key', 'f-ssl-cert', 'f-ssl-key']
    .every((id) => document.getElementById(id).value.includes('-----BEGIN')));

  step('Test before saving: through the bastion, with the client certificate');
  await page.click('#test-form');
  await page.locator('#test-result .test-ok, #test-result .test-bad').waitFor();
  const result = await page.locator('#test-result').textContent();
  assert.match(result, /^Connected: PostgreSQL \d+/, result);
  assert.match(result, /ssh_forward \(/, result);
  assert.deepEqual((await api('GET', '/data-source')).body, [], 'a test saves nothing');

  step('Create: the API has the password, the SSH key and the certificate');
  await Promise.all([page.waitForURL(/\/ui\/data-source\/D[0-9A-Za-z]{16}$/), page.click('#save')]);
  const id = page.url().split('/').pop();
  let stored = await dataSource(id);
  assert.equal(stored.name, 'Ledger through the bastion');
  assert.equal(stored.alias, 'ledger');
  assert.equal(stored.ssh.auth, 'publicKey');
  assert.equal(stored.tls.clientCertificate.subject, 'CN=jackal_test');
  assert.ok(stored.tls.rootCertificates.length >= 1);
  assert.ok(!JSON.stringify(stored).includes(PASSWORD));
  assert.ok((await storedUri(id)).includes(`:${PASSWORD}@`));

  step('edit only the name: the secrets stay');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/${id}/edit`), page.click('a[href$="/edit"]')]);
  assert.equal(await page.inputValue('#f-password'), '', 'no secret is sent back');
  assert.match(await page.getAttribute('#f-password', 'placeholder'), /stored/);
  assert.equal(await page.inputValue('#f-ssh-key'), '');
  assert.equal(await page.inputValue('#f-host'), db.host);
  assert.ok(await page.locator('#retention-warning').isHidden());
  assert.ok(!(await page.content()).includes(PASSWORD));
  await check(page, 'data-source-edit');
  await page.fill('#f-name', 'Ledger (prod)');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/${id}`), page.click('#save')]);
  stored = await dataSource(id);
  assert.equal(stored.name, 'Ledger (prod)');
  assert.equal(stored.ssh.auth, 'publicKey');
  assert.equal(stored.tls.clientCertificate.subject, 'CN=jackal_test');
  assert.ok((await storedUri(id)).includes(`:${PASSWORD}@`));
  const retest = await api('POST', `/data-source/${id}/test`);
  assert.equal(retest.body.success, true, JSON.stringify(retest.body));

  step('change the host: the form warns, then the password and the certificate go');
  await page.goto(`${base}/ui/data-source/${id}/edit`);
  await page.fill('#f-host', 'localhost');
  const warning = page.locator('#retention-warning');
  await warning.waitFor();
  const warned = await warning.textContent();
  assert.match(warned, /the stored password/);
  assert.match(warned, /client certificate/);
  assert.doesNotMatch(warned, /SSH/, 'the route is unchanged: the SSH key stays');
  await page.fill('#f-host', db.host);
  assert.ok(await warning.isHidden(), 'back to the same host: no warning');
  await page.fill('#f-host', 'localhost');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/${id}`), page.click('#save')]);
  stored = await dataSource(id);
  assert.match(stored.configUri, /@localhost:/);
  assert.equal(stored.tls, undefined, 'the certificate is gone');
  assert.equal(stored.ssh.auth, 'publicKey', 'the SSH key stays with its route');
  assert.ok(!(await storedUri(id)).includes(PASSWORD), 'the password is gone');

  step('access: add to a role, grant a person two hours');
  await Promise.all([page.waitForURL(`${base}/ui/data-source/${id}/access`), page.click('.ds-links a[href$="/access"]')]);
  await Promise.all([page.waitForEvent('load'), page.click('#add-role button')]);
  assert.deepEqual((await api('GET', '/role/Finance/data-source')).body.map((d) => d.id), [id]);
  await page.fill('#grant-amount', '2');
  await page.selectOption('#grant-unit', '3600');
  await Promise.all([page.waitForEvent('load'), page.click('#grant button[type=submit]')]);
  const permissions = (await api('GET', `/data-source/${id}/permission`)).body;
  assert.equal(permissions.length, 1);
  assert.equal(Date.parse(permissions[0].expiresAt) - Date.parse(permissions[0].startsAt), 2 * 3600 * 1000);
  await check(page, 'data-source-access');

  step('the people, roles and permissions pages');
  await page.click('nav a[href="/ui/people"]');
  await page.waitForURL(`${base}/ui/people`);
  assert.match(await page.locator('#people').textContent(), /ann@example\.com/);
  await check(page, 'people');
  await page.click('nav a[href="/ui/roles"]');
  await page.waitForURL(`${base}/ui/roles`);
  assert.match(await page.locator('#roles').textContent(), /Finance.*Ledger \(prod\)/s);
  await check(page, 'roles');
  await page.click('nav a[href="/ui/permissions"]');
  await page.waitForURL(`${base}/ui/permissions`);
  assert.match(await page.locator('#permissions').textContent(), /Ann Lee \(ann\).*Ledger \(prod\).*active/s);
  await check(page, 'permissions');

  step('revoke the permission, take it out of the role');
  await Promise.all([page.waitForEvent('load'), page.click('#permissions button[data-method="DELETE"]')]);
  assert.deepEqual((await api('GET', `/data-source/${id}/permission`)).body, []);
  await page.goto(`${base}/ui/data-source/${id}/access`);
  await Promise.all([page.waitForEvent('load'), page.click('.members button[data-method="DELETE"]')]);
  assert.deepEqual((await api('GET', '/role/Finance/data-source')).body, []);

  step('delete, after a second press');
  await page.goto(`${base}/ui/data-source/${id}/edit`);
  await page.click('#delete');
  await Promise.all([page.waitForURL(`${base}/ui/`), page.click('#delete-confirm')]);
  assert.equal((await api('GET', `/data-source/${id}`)).status, 404);

  assert.deepEqual(errors, [], 'console errors (CSP violations among them)');
  step('all checks passed');
} finally {
  await browser.close();
}
