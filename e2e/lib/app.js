'use strict';
// Teamdeck's building blocks for flows, written the way a person uses the pages: visible
// labels, roles and texts. Add helpers here as features land (members, invites, keys).

const assert = require('node:assert/strict');
const { currentServer } = require('./server');

let counter = 0;
/** A fresh, unique person: tests share a server per file but never a user. */
function newUser(first = 'Ann') {
  counter += 1;
  const id = `${process.pid.toString(36)}${Date.now().toString(36)}${counter}`;
  return { name: `${first} Tester`, email: `${first.toLowerCase()}-${id}@example.com`, password: 'correct horse battery' };
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Matches an accessible name that starts with `text` as a whole word ("Acme" not "Acme 2"). */
const startsWithWord = (text) => new RegExp(`^${escapeRe(text)}(\\s|$)`);
const exactly = (text) => new RegExp(`^\\s*${escapeRe(text)}\\s*$`);

/** Fails unless the page's path is `path` (string: exact; RegExp: tested on the pathname). */
function assertPath(page, path) {
  const actual = new URL(page.url()).pathname;
  if (path instanceof RegExp) assert.match(actual, path);
  else assert.equal(actual, path);
}

/** Waits for a navigation (that `action` triggers) to a page whose path matches `path`. */
async function navigates(page, path, action) {
  const test = (url) => (path instanceof RegExp ? path.test(url.pathname) : url.pathname === path);
  await Promise.all([page.waitForURL(test), action()]);
  await page.waitForLoadState('load');
}

const heading = (page) => page.getByRole('heading', { level: 1 });

/**
 * Signs up as a person does: the form, the "Check your email" page, the link of the
 * verification email (read from the server's local outbox), then signing in; lands on the
 * personal account's overview (or `landsOn`).
 */
async function signUp(page, user, { landsOn = /^\/a\/[^/]+$/ } = {}) {
  await page.goto('/signup');
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await loads(page, '/signup', () => page.getByRole('button', { name: 'Create account' }).click());
  await heading(page).filter({ hasText: exactly('Check your email') }).waitFor();
  const mail = await readVerificationEmail(currentServer(), user.email);
  await navigates(page, '/login', () => page.goto(mail.link));
  await page.getByRole('status').filter({ hasText: 'Your address is verified. Sign in to continue.' }).waitFor();
  await signIn(page, user, { landsOn });
}

async function signIn(page, { email, password }, { landsOn = /^\/a\/[^/]+$/ } = {}) {
  if (new URL(page.url()).pathname !== '/login') await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await navigates(page, landsOn, () => page.getByRole('button', { name: 'Sign in' }).click());
}

// <summary> has no ARIA role in Playwright's engine: the menus are found by their label or
// by the user's visible name; what is inside them, by role.
const switcherButton = (page) => page.locator('summary', { hasText: 'Switch account' });
const switcherMenu = (page) => page.locator('details.switcher .menu');
const userMenuButton = (page, user) => page.getByRole('banner').locator('summary').filter({ hasText: exactly(user.name) });

async function openSwitcher(page) {
  await switcherButton(page).click();
  const menu = switcherMenu(page);
  await menu.waitFor({ state: 'visible' });
  return menu;
}

/** Opens the switcher and picks an account by its visible name. */
async function switchTo(page, accountName) {
  const menu = await openSwitcher(page);
  await navigates(page, /^\/a\/[^/]+$/, () => menu.getByRole('link', { name: startsWithWord(accountName) }).click());
  await heading(page).filter({ hasText: exactly(accountName) }).waitFor();
}

async function createTeam(page, teamName) {
  const menu = await openSwitcher(page);
  await navigates(page, '/teams/new', () => menu.getByRole('link', { name: 'Create team' }).click());
  await page.getByLabel('Team name').fill(teamName);
  await navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Create team' }).click());
  await heading(page).filter({ hasText: exactly(teamName) }).waitFor();
  return new URL(page.url()).pathname; // /a/{slug}
}

async function signOut(page, user) {
  await userMenuButton(page, user).click();
  await navigates(page, '/login', () => page.getByRole('button', { name: 'Sign out' }).click());
}

/** The flash messages / alerts shown on the page (role=status or role=alert), as text. */
async function messages(page) {
  return page.locator('[role=status], [role=alert]').allInnerTexts();
}

// ---------- Members and invitations ----------

const fs = require('node:fs');
const path = require('node:path');

const accountNav = (page) => page.getByRole('navigation', { name: 'Account' });

/** Opens a page of the current account from the left navigation ("Members", "Settings"...). */
async function goToNav(page, label) {
  const link = accountNav(page).getByRole('link', { name: label, exact: true });
  const href = await link.getAttribute('href');
  await navigates(page, href, () => link.click());
  return href;
}

/** The toast (htmx responses) whose text matches `text` (string: contained; RegExp). */
const toast = (page, text) => page.locator('#toasts').getByRole('status').filter({ hasText: text });

/**
 * Marks the current document; `assertSameDocument` fails if a full page load happened since
 * (htmx swaps keep the document, a navigation or reload loses the mark).
 */
async function markDocument(page) {
  await page.evaluate(() => { window.__marker = 1; });
}
async function assertSameDocument(page, what = 'the page') {
  assert.equal(await page.evaluate(() => window.__marker), 1, `${what} was reloaded (expected an in-place htmx update)`);
}

/** On the members page: the "Invite a member" form, filled and sent (htmx); waits for the toast. */
async function sendInvite(page, email, role = 'Developer') {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption({ label: role });
  await page.getByRole('button', { name: 'Send invite' }).click();
  await toast(page, `Invite sent to ${email} as ${role}.`).waitFor();
}

/** Undoes quoted-printable: soft line breaks, then =XX escapes (as bytes, read as UTF-8). */
function decodeQuotedPrintable(text) {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const hex = soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3)) ? soft.slice(i + 1, i + 3) : null;
    if (hex) { bytes.push(parseInt(hex, 16)); i += 2; } else bytes.push(...Buffer.from(soft[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A header value with its RFC 2047 encoded words (=?utf-8?b?…?=, as lettre writes a subject
 * that is not ASCII) decoded; the space between two encoded words is not part of the text. */
function decodeEncodedWords(value) {
  return value.replace(/(\?=)\s+(?==\?)/g, '$1').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, encoding, text) => {
    const bytes = /b/i.test(encoding)
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, hex) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    return bytes.toString(/utf-?8/i.test(charset) ? 'utf8' : 'latin1');
  });
}

/** A MIME message as { headers (lower-case names, unfolded), body, parts (leaf parts, decoded) }. */
function parseMime(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = decodeEncodedWords(line.slice(i + 1).trim());
  }
  const type = headers['content-type'] || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary[1]}`).slice(1)
      .filter((p) => !p.startsWith('--'))
      .flatMap((p) => parseMime(p.replace(/^\r?\n/, '')).parts);
    return { headers, body, parts };
  }
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  let decoded = body;
  if (encoding === 'quoted-printable') decoded = decodeQuotedPrintable(body);
  else if (encoding === 'base64') decoded = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return { headers, body, parts: [{ type: type.split(';')[0].trim().toLowerCase(), headers, text: decoded }] };
}

/**
 * The newest email to `address` in the server's local outbox (<data-dir>/outbox/*.eml: the
 * e2e server runs without SMTP_URL) whose text part has a link of the kind `kind` ("invites",
 * "verify"; null: any email), polled until it appears. `exclude`: file names already seen
 * (e.g. an earlier invite to the same address).
 * Returns { file, headers, text (the text/plain part), html, link (the /<kind>/<token> URL) }.
 */
async function readEmail(server, address, { kind = null, timeout = 10_000, exclude = [] } = {}) {
  const dir = path.join(server.dataDir, 'outbox');
  const deadline = Date.now() + timeout;
  const wanted = address.toLowerCase();
  const linkOf = (text) => (kind ? new RegExp(`https?://[^\\s"<>]+/${kind}/[A-Za-z0-9_-]+`).exec(text) : [null]);
  for (;;) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml') && !exclude.includes(f)) : [];
    const found = files
      .map((f) => ({ f, full: path.join(dir, f) }))
      .map(({ f, full }) => ({ f, mtime: fs.statSync(full).mtimeMs, mail: parseMime(fs.readFileSync(full, 'utf8')) }))
      .filter(({ mail }) => (mail.headers.to || '').toLowerCase().includes(wanted))
      .map((found) => ({ ...found, text: (found.mail.parts.find((p) => p.type === 'text/plain') || { text: '' }).text }))
      .filter(({ text }) => linkOf(text))
      .sort((a, b) => b.mtime - a.mtime);
    if (found.length) {
      const { f, mail, text } = found[0];
      const html = (mail.parts.find((p) => p.type === 'text/html') || { text: '' }).text;
      return { file: f, headers: mail.headers, text, html, link: linkOf(text)[0] };
    }
    if (Date.now() > deadline) {
      throw new Error(`no ${kind ? `/${kind}/ ` : ''}email to ${address} in ${dir} after ${timeout} ms (files: ${fs.existsSync(dir) ? fs.readdirSync(dir).join(', ') : 'no outbox'})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The newest invitation to `address` (see `readEmail`); `link` is its /invites/<token> URL. */
const readInviteEmail = (server, address, options = {}) => readEmail(server, address, { ...options, kind: 'invites' });

/** The newest verification email to `address` (see `readEmail`); `link` is its /verify/<token> URL. */
const readVerificationEmail = (server, address, options = {}) => readEmail(server, address, { ...options, kind: 'verify' });

/**
 * The invitee's side: opens the invite link in `page` (a fresh, signed-out context), clicks
 * "Create an account" (email prefilled), signs up and lands in the team.
 */
async function acceptInviteBySigningUp(page, link, user, { onPage } = {}) {
  await page.goto(link);
  if (onPage) await onPage('invite');
  await navigates(page, '/signup', () => page.getByRole('link', { name: 'Create an account' }).click());
  assert.equal(await page.getByLabel('Email').inputValue(), user.email, 'the invited email is prefilled');
  if (onPage) await onPage('signup');
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Create account' }).click());
}

/**
 * Adds people to the team the way people do it: the admin (`page`, on the members page)
 * invites each by email, each invitee opens the mail's link in a new browser context and
 * signs up (in parallel). `people`: [[user, role], ...]. Leaves the admin on the members page
 * (reloaded, so the new members are listed).
 */
async function addMembers({ page, newSession, server }, people) {
  for (const [user, role = 'Developer'] of people) await sendInvite(page, user.email, role);
  await Promise.all(people.map(async ([user]) => {
    const mail = await readInviteEmail(server, user.email);
    const invitee = await newSession();
    await acceptInviteBySigningUp(invitee.page, mail.link, user);
    await invitee.context.close();
  }));
  await page.reload();
}
const addMember = (ctx, user, role = 'Developer') => addMembers(ctx, [[user, role]]);

/** The members table's row of a person (by name or email). */
const membersTable = (page) => page.getByRole('table', { name: /^Members of / });
const memberRow = (page, text) => membersTable(page).getByRole('row').filter({ hasText: text });

// ---------- API keys, the JSON API, login tokens ----------

/**
 * Like `navigates`, but always waits for a new page load of `path`, also when the page is
 * already there (a form that posts back to its own page, a "Done" link to the same page).
 */
async function loads(page, path, action) {
  const test = (url) => (path instanceof RegExp ? path.test(url.pathname) : url.pathname === path);
  await Promise.all([
    page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() && test(new URL(f.url())) }),
    action(),
  ]);
  await page.waitForLoadState('load');
}

/** Waits until the CSS animations of `locator` and its descendants ended (e.g. a dialog's fade-in). */
async function animationsDone(locator) {
  await locator.evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished.catch(() => {}))));
}

/** The "Scope" dropdown's options, as a person reads them. */
const KEY_SCOPES = {
  API: 'API: call models, run workloads',
  ADMIN: 'ADMIN: also deploy apps and manage through the API',
};

/** The dialog that shows a new key once. */
const newKeyDialog = (page, name) => page.getByRole('dialog', { name: `Key ${name} created` });

/**
 * On the API keys page: fills "Name", picks the "Scope", clicks "Create key" (the page
 * reloads with the dialog). Returns { dialog, secret, response (the page's GET) }.
 */
async function createKey(page, name, scope = 'API') {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Scope', { exact: true }).selectOption({ label: KEY_SCOPES[scope] });
  const keysPath = new URL(page.url()).pathname;
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === keysPath && r.request().method() === 'GET'
      && r.request().isNavigationRequest()),
    loads(page, keysPath, () => page.getByRole('button', { name: 'Create key', exact: true }).click()),
  ]);
  const dialog = newKeyDialog(page, name);
  await dialog.waitFor({ state: 'visible' });
  await animationsDone(dialog);
  const secret = await dialog.getByRole('textbox', { name: 'The new key' }).inputValue();
  return { dialog, secret, response };
}

/** Closes the new-key dialog with "Done" (a link back to the keys page). */
async function closeKeyDialog(page, dialog) {
  await loads(page, new URL(page.url()).pathname, () => dialog.getByRole('link', { name: 'Done', exact: true }).click());
}

/** The page's only table, or the table under the card heading `title`. */
function table(page, title) {
  if (!title) return page.getByRole('table');
  return page.locator('.card').filter({ has: page.getByRole('heading', { name: title, exact: true }) }).getByRole('table');
}
/** The rows of `tableLocator` with a cell that reads exactly `text`. */
const rowNamed = (tableLocator, text) => tableLocator.getByRole('row')
  .filter({ has: tableLocator.page().getByRole('cell', { name: text, exact: true }) });

/** A table row as { column header: cell text }. */
async function rowValues(tableLocator, row) {
  const headers = await tableLocator.getByRole('columnheader').allTextContents();
  const cells = await row.getByRole('cell').allInnerTexts();
  return Object.fromEntries(headers.map((h, i) => [h.trim(), (cells[i] || '').trim()]));
}

/** Calls the JSON API from the test (not the browser): { status, type, body (parsed JSON or text) }. */
async function api(server, method, path, { key, token, json, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Key ${key}`;
  if (token) h.Authorization = `Bearer ${token}`;
  if (json !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await res.text();
  const type = res.headers.get('content-type') || '';
  let body = text;
  if (/json/.test(type)) body = JSON.parse(text);
  return { status: res.status, type, body, headers: res.headers };
}

/** Reloads the page until `locator` is there (background writers: e.g. the request recorder). */
async function reloadUntil(page, locator, { timeout = 5_000, what = 'the expected content' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await locator.count()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not appear on ${page.url()} within ${timeout} ms (reloading)`);
    await page.waitForTimeout(250);
    await page.reload();
  }
}

module.exports = {
  loads, animationsDone, KEY_SCOPES, newKeyDialog, createKey, closeKeyDialog, table, rowNamed, rowValues, api, reloadUntil,
  newUser, signUp, signIn, signOut, openSwitcher, switchTo, createTeam, messages,
  switcherButton, switcherMenu, userMenuButton, heading, navigates, assertPath, startsWithWord, exactly,
  accountNav, goToNav, toast, markDocument, assertSameDocument, sendInvite, decodeQuotedPrintable, parseMime,
  readEmail, readInviteEmail, readVerificationEmail, acceptInviteBySigningUp, addMember, addMembers, membersTable, memberRow,
};
