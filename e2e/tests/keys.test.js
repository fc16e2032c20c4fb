'use strict';
// API keys, the JSON API and the CLI's browser login: create a key (shown once, then masked),
// call the API with it and find the call on the Requests page; delete a key (the API refuses
// it at once); confirm a device code and revoke the login token; what billing members and
// developers see.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

let teams = 0;
const teamName = (base) => `${base} ${process.pid.toString(36)}${++teams}`;

/** An admin with a fresh team, on its API keys page (opened from the left navigation). */
async function adminOnKeys(page, base) {
  const admin = app.newUser('Ann');
  await app.signUp(page, admin);
  const team = teamName(base);
  const teamPath = await app.createTeam(page, team);
  await app.goToNav(page, 'API keys');
  app.assertPath(page, `${teamPath}/keys`);
  assert.equal(await app.heading(page).innerText(), 'API keys');
  return { admin, team, teamPath, slug: teamPath.split('/').pop() };
}

/** The masked form of a key as the pages show it: prefix and public id, "…", last 4. */
function maskOf(key) {
  const m = /^(tdk_[a-z0-9]+)_/.exec(key);
  assert.ok(m, `not a team key: ${key.slice(0, 8)}…`);
  return `${m[1]}…${key.slice(-4)}`;
}

flow('create an API key: shown once with Copy, then only masked; the API call it makes is listed under Requests', async ({ page, session, server }) => {
  const { team, teamPath, slug, admin } = await adminOnKeys(page, 'Keys');
  await page.getByText('No API keys yet.').waitFor();
  await checkPage(page, 'keys-empty');

  const name = 'production';
  const { dialog, secret, response } = await app.createKey(page, name, 'ADMIN');
  app.assertPath(page, `${teamPath}/keys`);
  assert.match(secret, /^tdk_[A-Za-z0-9_]{40,}$/, 'the key starts with tdk_ and is long');
  const field = dialog.getByRole('textbox', { name: 'The new key' });
  assert.equal(await field.isEditable(), false, 'the key field is read-only');
  await dialog.getByRole('alert').filter({ hasText: "You won't see this key again" }).waitFor();
  assert.match(response.headers()['cache-control'] || '', /no-store/, 'the page showing the key is not cached');
  await checkPage(page, 'keys-created-dialog');

  // Copy: headless Chromium may refuse the clipboard; either way the button says so, quietly.
  await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
  const copied = dialog.getByRole('button', { name: /^(Copied|Copy failed)$/ });
  await copied.waitFor();
  const outcome = (await copied.innerText()).trim();
  await dialog.getByRole('status').filter({
    hasText: outcome === 'Copied' ? 'Copied to the clipboard.' : 'Could not copy. Select the text and copy it yourself.',
  }).waitFor({ state: 'attached' });
  process.stdout.write(`headless Chromium, no clipboard permission: the button said "${outcome}"\n`);
  // With the clipboard allowed, Copy puts exactly the key there.
  await session.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await dialog.getByRole('button', { name: /^(Copy|Copied|Copy failed)$/ }).click();
  await dialog.getByRole('button', { name: 'Copied', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the clipboard holds the key');

  await app.closeKeyDialog(page, dialog);
  await dialog.waitFor({ state: 'detached' });
  // Neither the browser's Back button nor a reload brings the key back.
  await page.goBack();
  app.assertPath(page, `${teamPath}/keys`);
  assert.ok(!(await page.content()).includes(secret), 'Back shows the page again without the key');
  await page.goForward();
  await page.reload();
  assert.equal(await app.newKeyDialog(page, name).count(), 0, 'the dialog is not shown again');
  assert.ok(!(await page.content()).includes(secret), 'the full key is nowhere in the page');

  const keys = app.table(page);
  const row = app.rowNamed(keys, name);
  assert.equal(await row.count(), 1);
  const values = await app.rowValues(keys, row);
  assert.equal(values.Scope, 'ADMIN');
  assert.equal(values.Key, maskOf(secret));
  assert.match(values.Key, /^tdk_.+….{4}$/);
  assert.equal(values['Created by'], admin.name);
  assert.equal(values['Last used'], 'Never');
  await checkPage(page, 'keys-list');

  // The key works from a program, as the team.
  const whoami = await app.api(server, 'GET', '/api/v1/whoami', { key: secret });
  assert.equal(whoami.status, 200, JSON.stringify(whoami.body));
  assert.match(whoami.type, /^application\/json/);
  assert.equal(whoami.body.team.slug, slug);
  assert.equal(whoami.body.team.name, team);
  assert.equal(whoami.body.authenticated_by, 'team_key');
  assert.equal(whoami.body.attributed_to, 'team');
  assert.equal(whoami.body.scope, 'ADMIN');
  assert.equal(whoami.body.key.masked, maskOf(secret));

  // The call is attributed to the key on the Requests page (the recorder writes in batches).
  await app.goToNav(page, 'Requests');
  app.assertPath(page, `${teamPath}/requests`);
  const latest = app.table(page, 'Latest requests');
  const call = latest.getByRole('row').filter({ hasText: `team key ${name}` }).filter({ hasText: 'GET /api/v1/whoami' });
  await app.reloadUntil(page, call, { what: `"team key ${name}" and "GET /api/v1/whoami"` });
  const callValues = await app.rowValues(latest, call.first());
  assert.equal(callValues.By, `team key ${name}`);
  assert.equal(callValues.Request, 'GET /api/v1/whoami');
  assert.equal(callValues.Status, '200');
  const counts = await app.rowValues(app.table(page, 'Who made requests'),
    app.rowNamed(app.table(page, 'Who made requests'), `team key ${name}`));
  assert.deepEqual([counts['Last 24 h'], counts['Last 7 days']], ['1', '1']);
  await checkPage(page, 'requests-team-key');

  // And the key is no longer "Never" used.
  await app.goToNav(page, 'API keys');
  assert.notEqual((await app.rowValues(keys, row))['Last used'], 'Never');
});

flow('delete a key: a dialog confirms, the key is gone and the API refuses it', async ({ page, server }) => {
  const { teamPath } = await adminOnKeys(page, 'Delete');
  const name = 'ci runner';
  const { dialog, secret } = await app.createKey(page, name, 'API');
  await app.closeKeyDialog(page, dialog);
  assert.equal((await app.api(server, 'GET', '/api/v1/whoami', { key: secret })).status, 200);

  const row = app.rowNamed(app.table(page), name);
  // Cancel first: nothing happens.
  await row.getByRole('link', { name: `Delete ${name}`, exact: true }).click();
  const confirm = page.getByRole('dialog', { name: `Delete key ${name}?` });
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await confirm.getByText(maskOf(secret), { exact: false }).waitFor();
  app.assertPath(page, `${teamPath}/keys`);
  await checkPage(page, 'keys-delete-dialog');
  await confirm.getByRole('button', { name: 'Cancel', exact: true }).click();
  await confirm.waitFor({ state: 'hidden' });
  assert.equal(await row.count(), 1);

  await row.getByRole('link', { name: `Delete ${name}`, exact: true }).click();
  await confirm.waitFor({ state: 'visible' });
  await app.loads(page, `${teamPath}/keys`, () => confirm.getByRole('button', { name: 'Delete key', exact: true }).click());
  await page.getByRole('status').filter({ hasText: `Key ${name} deleted.` }).waitFor();
  assert.equal(await app.rowNamed(app.table(page), name).count(), 0);
  await page.getByText('No API keys yet.').waitFor();
  await checkPage(page, 'keys-deleted');

  const refused = await app.api(server, 'GET', '/api/v1/whoami', { key: secret });
  assert.equal(refused.status, 401);
  assert.match(refused.type, /^application\/json/);
  assert.equal(refused.body.code, 'unauthenticated');
  assert.ok(refused.body.message, 'the error says why');
});

flow('CLI login: confirm the device code in the browser, get a token, revoke it from Sessions & tokens', async ({ page, server }) => {
  const user = app.newUser('Cli');
  await app.signUp(page, user);

  const started = await app.api(server, 'POST', '/api/v1/device/code', { json: { device_name: 'e2e laptop' } });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const { device_code: deviceCode, user_code: userCode, verification_uri_complete: link } = started.body;
  assert.ok(link.startsWith(`${server.url}/device`), link);
  const poll = () => app.api(server, 'POST', '/api/v1/device/token', { json: { device_code: deviceCode } });
  const pending = await poll();
  assert.equal(pending.status, 400);
  assert.equal(pending.body.code, 'authorization_pending');

  await page.goto(link);
  app.assertPath(page, '/device');
  assert.equal(await app.heading(page).innerText(), 'Confirm a device');
  const ask = page.getByRole('main').getByText('asks to sign in as', { exact: false });
  const askText = await ask.innerText();
  assert.match(askText, /e2e laptop/);
  assert.ok(askText.includes(userCode), `the page shows the code ${userCode}: ${askText}`);
  assert.ok(askText.includes(user.email), askText);
  await checkPage(page, 'device-confirm');

  await app.loads(page, '/device', () => page.getByRole('button', { name: 'Sign in e2e laptop', exact: true }).click());
  await page.getByRole('status').filter({ hasText: `e2e laptop is signed in as ${user.email}. Go back to your terminal.` }).waitFor();
  await checkPage(page, 'device-approved');

  const granted = await poll();
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  const token = granted.body.access_token;
  assert.match(token, /^tdt_/);
  assert.equal(granted.body.token_type, 'Bearer');
  const again = await poll();
  assert.equal(again.status, 400, 'a device code gives one token');
  const whoami = await app.api(server, 'GET', '/api/v1/whoami', { token });
  assert.equal(whoami.status, 200, JSON.stringify(whoami.body));
  assert.equal(whoami.body.authenticated_by, 'login_token');
  assert.equal(whoami.body.user.email, user.email);

  // The user menu (top right) → Sessions & tokens: the device is listed; revoke it.
  await app.userMenuButton(page, user).click();
  await app.navigates(page, '/account/sessions',
    () => page.getByRole('banner').getByRole('link', { name: 'Sessions & tokens', exact: true }).click());
  assert.equal(await app.heading(page).innerText(), 'Sessions & tokens');
  const tokens = app.table(page, 'CLI and SDK tokens');
  const row = app.rowNamed(tokens, 'e2e laptop');
  assert.equal(await row.count(), 1);
  await checkPage(page, 'account-tokens');

  await app.loads(page, '/account/sessions', () => row.getByRole('button', { name: /^Revoke\b/ }).click());
  await page.getByRole('status').filter({ hasText: 'Token revoked.' }).waitFor();
  assert.equal(await app.rowNamed(app.table(page, 'CLI and SDK tokens'), 'e2e laptop').count(), 0);
  await page.getByText('No devices are signed in.').waitFor();
  await checkPage(page, 'account-tokens-revoked');

  const refused = await app.api(server, 'GET', '/api/v1/whoami', { token });
  assert.equal(refused.status, 401);
  assert.match(refused.type, /^application\/json/);
  assert.equal(refused.body.code, 'unauthenticated');
});

flow('a billing member sees the keys read-only; a developer has no API keys page', async ({ page, newSession, server }) => {
  const { team, teamPath } = await adminOnKeys(page, 'Roles');
  const name = 'billing export';
  const { dialog, secret } = await app.createKey(page, name, 'API');
  await app.closeKeyDialog(page, dialog);

  const bill = app.newUser('Bill');
  const dev = app.newUser('Dev');
  await app.goToNav(page, 'Members');
  await app.addMembers({ page, newSession, server }, [[bill, 'Billing'], [dev, 'Developer']]);

  // Billing: the list, without the form or the delete buttons.
  const billing = await newSession();
  await app.signIn(billing.page, bill);
  await app.switchTo(billing.page, team);
  await app.goToNav(billing.page, 'API keys');
  app.assertPath(billing.page, `${teamPath}/keys`);
  const keys = app.table(billing.page);
  const row = app.rowNamed(keys, name);
  assert.equal(await row.count(), 1);
  assert.equal((await app.rowValues(keys, row)).Key, maskOf(secret));
  assert.equal(await billing.page.getByRole('button', { name: 'Create key' }).count(), 0);
  assert.equal(await billing.page.getByRole('link', { name: 'Create key' }).count(), 0);
  assert.equal(await billing.page.getByLabel('Name', { exact: true }).count(), 0);
  assert.equal(await row.getByRole('link', { name: /Delete/ }).count(), 0);
  assert.equal(await billing.page.getByRole('dialog').count(), 0);
  assert.ok(!(await billing.page.content()).includes(secret));
  await checkPage(billing.page, 'keys-billing-read-only');

  // Developer: no navigation entry, and the address answers 403.
  const developer = await newSession();
  await app.signIn(developer.page, dev);
  await app.switchTo(developer.page, team);
  const nav = app.accountNav(developer.page);
  await nav.getByRole('link', { name: 'Requests', exact: true }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'API keys', exact: true }).count(), 0);
  await checkPage(developer.page, 'developer-nav-no-keys');
  await developer.expectStatus(403, `${teamPath}/keys`, () => developer.page.goto(`${teamPath}/keys`));
  assert.equal(await app.heading(developer.page).innerText(), 'No access');
  assert.ok(!(await developer.page.content()).includes(maskOf(secret)), 'the 403 page lists no key');
  await checkPage(developer.page, 'keys-developer-403');
});

// ---------- Layout: what a person can read ----------

/** Elements of `root` whose content is wider than their box and is cut off (overflow not visible). */
function clipped(root) {
  return root.evaluate((el) => [el, ...el.querySelectorAll('*')]
    .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'
      && e.getClientRects().length && !e.matches('.visually-hidden'))
    .map((e) => `<${e.tagName.toLowerCase()}${e.className ? ` class="${e.className}"` : ''}> ${e.scrollWidth}px of content in ${e.clientWidth}px`));
}

flow('the delete-key dialog shows its whole text, wrapped and left-aligned', async ({ page }) => {
  await adminOnKeys(page, 'Dialog');
  const name = 'layout check';
  const { dialog } = await app.createKey(page, name, 'API');
  await app.closeKeyDialog(page, dialog);
  await app.rowNamed(app.table(page), name).getByRole('link', { name: `Delete ${name}`, exact: true }).click();
  const confirm = page.getByRole('dialog', { name: `Delete key ${name}?` });
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await checkPage(page, 'layout-keys-delete-dialog');
  assert.deepEqual(await clipped(confirm), [], 'text cut off in the dialog');
  const body = confirm.getByText('This cannot be undone.', { exact: false });
  const fits = await body.evaluate((p) => {
    const r = document.createRange();
    r.selectNodeContents(p);
    const text = r.getBoundingClientRect();
    const box = p.closest('dialog').getBoundingClientRect();
    return text.left >= box.left && text.right <= box.right;
  });
  assert.ok(fits, 'the warning lies inside the dialog');
  const align = await confirm.getByRole('heading', { name: `Delete key ${name}?` }).evaluate((h) => getComputedStyle(h).textAlign);
  assert.ok(['start', 'left'].includes(align), `the title is aligned ${align}`);
});

flow('pages without an account navigation use the page width (Sessions & tokens, Confirm a device)', async ({ page, server }) => {
  const user = app.newUser('Wide');
  await app.signUp(page, user);
  const started = await app.api(server, 'POST', '/api/v1/device/code', { json: { device_name: 'wide laptop' } });
  await page.goto(started.body.verification_uri_complete);
  await checkPage(page, 'layout-device-confirm');
  const width = () => page.getByRole('main').evaluate((m) => Math.round(m.getBoundingClientRect().width));
  const confirmWidth = await width();
  await app.loads(page, '/device', () => page.getByRole('button', { name: 'Sign in wide laptop', exact: true }).click());
  const granted = await app.api(server, 'POST', '/api/v1/device/token', { json: { device_code: started.body.device_code } });
  assert.equal(granted.status, 200);
  await page.goto('/account/tokens');
  await checkPage(page, 'layout-account-tokens');
  assert.ok(confirmWidth >= 600, `Confirm a device: <main> is ${confirmWidth}px wide in a 1280px window`);
  assert.ok(await width() >= 600, `Sessions & tokens: <main> is ${await width()}px wide in a 1280px window`);
  assert.deepEqual(await clipped(page.getByRole('main')), [], 'content cut off on Sessions & tokens');
  const revoke = await page.getByRole('button', { name: 'Revoke wide laptop', exact: true }).boundingBox();
  const main = await page.getByRole('main').boundingBox();
  assert.ok(revoke.x + revoke.width <= main.x + main.width, 'the Revoke button is shown without scrolling the table');
});

flow('a key with an expiry and a cap is rotated (new secret shown once with Copy), then deleted into the archived keys', async ({ page, server }) => {
  const { teamPath, admin } = await adminOnKeys(page, 'Rotate');
  const name = 'nightly';
  await page.getByLabel('Expires', { exact: true }).selectOption({ label: 'In 90 days' });
  await page.getByLabel('Monthly spend cap (USD, optional)', { exact: true }).fill('50');
  const { dialog, secret } = await app.createKey(page, name, 'API');
  await app.closeKeyDialog(page, dialog);
  const keys = app.table(page);
  const row = app.rowNamed(keys, name);
  const values = await app.rowValues(keys, row);
  assert.notEqual(values.Expires, 'No expiry', 'the expiry is shown');
  assert.match(values.Key, /Cap \$50\.00 a month/);

  await row.getByRole('link', { name: `Rotate ${name}`, exact: true }).click();
  const confirm = page.getByRole('dialog', { name: `Rotate key ${name}?` });
  await confirm.waitFor({ state: 'visible' });
  await app.animationsDone(confirm);
  await confirm.getByLabel('Keep the old secret working for').selectOption({ label: '3 days' });
  await checkPage(page, 'keys-rotate-dialog');
  await app.loads(page, `${teamPath}/keys`, () => confirm.getByRole('button', { name: 'Rotate key', exact: true }).click());
  const rotated = page.getByRole('dialog', { name: `Key ${name} rotated: its new secret` });
  await rotated.waitFor({ state: 'visible' });
  await app.animationsDone(rotated);
  const fresh = await rotated.getByRole('textbox', { name: 'The new key' }).inputValue();
  assert.notEqual(fresh, secret);
  await rotated.getByRole('alert').filter({ hasText: "You won't see this key again" }).waitFor();
  await rotated.getByRole('button', { name: 'Copy', exact: true }).click();
  await rotated.getByRole('button', { name: /^(Copied|Copy failed)$/ }).waitFor();
  await checkPage(page, 'keys-rotated-dialog');
  await app.closeKeyDialog(page, rotated);

  // Both secrets work during the grace; the row says until when the old one does.
  assert.equal((await app.api(server, 'GET', '/api/v1/whoami', { key: secret })).status, 200);
  assert.equal((await app.api(server, 'GET', '/api/v1/whoami', { key: fresh })).status, 200);
  await app.rowNamed(app.table(page), name).getByText(`Old secret ${maskOf(secret)} works until`).waitFor();
  await app.loads(page, `${teamPath}/keys`, () => app.rowNamed(app.table(page), name)
    .getByRole('button', { name: `Retire the old secret now of ${name}`, exact: true }).click());
  const retired = await app.api(server, 'GET', '/api/v1/whoami', { key: secret });
  assert.equal(retired.status, 401);
  assert.equal(retired.body.code, 'key_rotated');

  // Deleted: the key moves to "Archived keys", collapsed until opened.
  await app.rowNamed(app.table(page), name).getByRole('link', { name: `Delete ${name}`, exact: true }).click();
  const del = page.getByRole('dialog', { name: `Delete key ${name}?` });
  await del.waitFor({ state: 'visible' });
  await app.loads(page, `${teamPath}/keys`, () => del.getByRole('button', { name: 'Delete key', exact: true }).click());
  const archived = page.locator('details#archived-keys');
  assert.equal(await archived.getAttribute('open'), null, 'collapsed by default');
  await archived.locator('summary').click();
  const archivedRow = archived.getByRole('row').filter({ hasText: maskOf(fresh) });
  await archivedRow.waitFor();
  const archivedValues = await app.rowValues(archived.getByRole('table'), archivedRow);
  assert.equal(archivedValues['Archived by'], admin.name);
  await checkPage(page, 'keys-archived');
});
