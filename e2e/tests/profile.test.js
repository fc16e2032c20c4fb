'use strict';
// The profile on "Your account": changing the email address (confirmed through the link
// emailed to the new address, opened in another browser) and changing the password (another
// browser signed out at its next click, the new password signs in).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

/**
 * The newest email to `address` whose subject is `subject`, from the server's local outbox,
 * polled until it appears: { text, link (the first absolute link matching `linkPattern`) }.
 */
async function readEmail(server, address, subject, linkPattern) {
  const dir = path.join(server.dataDir, 'outbox');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
    const found = files
      .map((f) => path.join(dir, f))
      .map((full) => ({ mtime: fs.statSync(full).mtimeMs, mail: app.parseMime(fs.readFileSync(full, 'utf8')) }))
      .filter(({ mail }) => (mail.headers.to || '').toLowerCase().includes(address.toLowerCase())
        && (mail.headers.subject || '') === subject)
      .sort((a, b) => b.mtime - a.mtime);
    if (found.length) {
      const text = (found[0].mail.parts.find((p) => p.type === 'text/plain') || { text: '' }).text;
      const m = linkPattern ? linkPattern.exec(text) : null;
      if (linkPattern) assert.ok(m, `no link like ${linkPattern} in:\n${text}`);
      return { text, link: m && m[0] };
    }
    if (Date.now() > deadline) throw new Error(`no email "${subject}" to ${address} in ${dir}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openAccount(page, user) {
  await app.userMenuButton(page, user).click();
  await app.navigates(page, '/account', () => page.getByRole('link', { name: 'Your account', exact: true }).click());
  assert.equal(await app.heading(page).innerText(), 'Your account');
}

flow('change email: the link sent to the new address confirms it, then only the new address signs in', async ({ page, newSession, server }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await openAccount(page, ann);
  await checkPage(page, 'account-profile');

  const newEmail = ann.email.replace('@example.com', '@new.example.com');
  const card = page.locator('section', { has: page.getByRole('heading', { name: 'Email', exact: true }) });
  await card.getByLabel('New email address').fill(newEmail);
  await card.getByLabel('Your password').fill(ann.password);
  await app.loads(page, '/account', () => card.getByRole('button', { name: 'Send confirmation link' }).click());
  await page.getByRole('status').filter({ hasText: `We sent a link to ${newEmail}.` }).waitFor();
  await card.getByText(`Waiting for you to open the link sent to ${newEmail}.`, { exact: false }).waitFor();

  const told = await readEmail(server, ann.email, 'A change of your Teamdeck email address was asked for');
  assert.match(told.text, new RegExp(`to ${newEmail.replace(/[.]/g, '\\.')} was asked for on`));
  const { link } = await readEmail(server, newEmail, 'Confirm your new email address for Teamdeck',
    /https?:\/\/[^\s"<>]+\/account\/email\/[A-Za-z0-9_-]+/);

  // Opened where the new mailbox is read: another browser, not signed in.
  const phone = await newSession();
  await phone.page.goto(link);
  assert.equal(await app.heading(phone.page).innerText(), 'Confirm your new email address');
  await checkPage(phone.page, 'account-email-confirm');
  await app.navigates(phone.page, '/account/email/confirmed',
    () => phone.page.getByRole('button', { name: 'Confirm this address' }).click());
  await phone.page.getByRole('status').filter({ hasText: `Your email address is now ${newEmail}.` }).waitFor();
  await readEmail(server, ann.email, 'Your Teamdeck email address was changed');

  await app.navigates(phone.page, '/login', () => phone.page.getByRole('link', { name: 'Sign in' }).click());
  await phone.page.getByLabel('Email').fill(ann.email);
  await phone.page.getByLabel('Password').fill(ann.password);
  await phone.expectStatus(401, '/login', () => app.navigates(phone.page, '/login',
    () => phone.page.getByRole('button', { name: 'Sign in' }).click()));
  await app.signIn(phone.page, { email: newEmail, password: ann.password });

  await page.reload();
  await card.getByText(`You sign in with ${newEmail}`, { exact: false }).waitFor();
  const log = app.table(page, 'Security log');
  await log.getByRole('row').filter({ hasText: 'Changed the email address' }).filter({ hasText: newEmail }).waitFor();
  await checkPage(page, 'account-email-changed');
});

flow('change password: other browsers are signed out, the new password signs in', async ({ page, session, newSession }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  const other = await newSession();
  await app.signIn(other.page, ann);
  await openAccount(page, ann);
  const newPassword = 'a new and longer passphrase';

  const card = page.locator('section', { has: page.getByRole('heading', { name: 'Password', exact: true }) });
  await card.getByLabel('Current password').fill('not my password');
  await card.getByLabel('New password').fill(newPassword);
  await session.expectStatus(422, '/account/password', () => app.navigates(page, '/account/password',
    () => card.getByRole('button', { name: 'Change password' }).click()));
  await card.getByText('That is not your current password.').waitFor();
  await checkPage(page, 'account-password-refused');

  await card.getByLabel('Current password').fill(ann.password);
  await card.getByLabel('New password').fill(newPassword);
  await app.navigates(page, '/account', () => card.getByRole('button', { name: 'Change password' }).click());
  await page.getByRole('status').filter({ hasText: 'Password changed. You were signed out everywhere else.' }).waitFor();
  const log = app.table(page, 'Security log');
  await log.getByRole('row').filter({ hasText: 'Changed the password' }).filter({ hasText: '1 other browser signed out' }).waitFor();

  // The other browser's next click lands on the sign-in page; this one stays signed in.
  await app.navigates(other.page, '/login', () => other.page.getByRole('link', { name: 'API keys', exact: true }).click());
  await app.signOut(page, ann);
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill(ann.password);
  await session.expectStatus(401, '/login', () => app.navigates(page, '/login',
    () => page.getByRole('button', { name: 'Sign in' }).click()));
  await page.getByText("That email and password don't match an account.", { exact: false }).waitFor();
  await app.signIn(page, { email: ann.email, password: newPassword });
});
