'use strict';
// A forgotten password: "Forgot your password?" on the sign-in page, the emailed link (read
// from the local outbox), a new password, and signing in with it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

/**
 * The newest email to `address` in the local outbox that carries a reset link, polled until it
 * appears (other emails to the address, such as a verification, are passed over).
 * Returns { text (the text/plain part), html, link (the /reset/<token> URL) }.
 */
async function readResetEmail(server, address, { timeout = 10_000 } = {}) {
  const dir = path.join(server.dataDir, 'outbox');
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
      .filter((f) => f.endsWith('.eml'))
      .map((f) => path.join(dir, f))
      .map((full) => ({ mtime: fs.statSync(full).mtimeMs, mail: app.parseMime(fs.readFileSync(full, 'utf8')) }))
      .filter(({ mail }) => (mail.headers.to || '').toLowerCase().includes(address.toLowerCase()))
      .map(({ mtime, mail }) => ({
        mtime,
        text: (mail.parts.find((p) => p.type === 'text/plain') || { text: '' }).text,
        html: (mail.parts.find((p) => p.type === 'text/html') || { text: '' }).text,
      }))
      .map((m) => ({ ...m, link: (/https?:\/\/[^\s"<>]+\/reset\/[A-Za-z0-9_-]+/.exec(m.text) || [])[0] }))
      .filter((m) => m.link)
      .sort((a, b) => b.mtime - a.mtime);
    if (found.length) return found[0];
    if (Date.now() > deadline) throw new Error(`no reset email to ${address} in ${dir} after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

flow('forgot password: the emailed link sets a new password, which signs in', async ({ page, session, server }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.signOut(page, ann);

  await app.navigates(page, '/forgot', () => page.getByRole('link', { name: 'Forgot your password?' }).click());
  assert.equal(await app.heading(page).innerText(), 'Reset your password');
  await page.getByLabel('Email').fill(ann.email);
  await checkPage(page, 'forgot');
  await app.navigates(page, '/forgot', () => page.getByRole('button', { name: 'Email me a link' }).click());
  assert.equal(await app.heading(page).innerText(), 'Check your email');
  await page.getByText('If an account uses that address, we sent it a link to set a new password.').waitFor();
  await checkPage(page, 'forgot-sent');

  const mail = await readResetEmail(server, ann.email);
  assert.ok(mail.link.startsWith(`${server.url}/reset/`), mail.link);
  assert.match(mail.text, new RegExp(`“${ann.name}”`), 'the name is quoted as a name');
  assert.ok(mail.html.includes(`href="${mail.link}"`), 'the HTML part links to the same page');

  await page.goto(mail.link);
  assert.equal(await app.heading(page).innerText(), 'Set a new password');
  await page.getByText(`For the account of ${ann.email}.`, { exact: false }).waitFor();
  await checkPage(page, 'reset');
  const newPassword = 'a brand new passphrase';
  await page.getByLabel('New password').fill(newPassword);
  await app.navigates(page, '/login', () => page.getByRole('button', { name: 'Set password' }).click());
  await page.getByRole('status').filter({ hasText: 'Your password is set. Sign in with it.' }).waitFor();
  await checkPage(page, 'reset-done');

  await app.signIn(page, { email: ann.email, password: newPassword });
  assert.equal(await app.heading(page).innerText(), ann.name);

  // The link worked once.
  await session.expectStatus(410, new URL(mail.link).pathname, () => page.goto(mail.link));
  assert.equal(await app.heading(page).innerText(), 'This link no longer works');
  await page.getByRole('link', { name: 'Email me a new link' }).waitFor();
  await checkPage(page, 'reset-dead');
});

flow('a mistyped address is shown again with what to fix', async ({ page, session }) => {
  await page.goto('/forgot');
  await page.getByLabel('Email').fill('ann at example');
  // The browser's own check would stop the form: the server's answer is what is tested.
  await page.locator('form').evaluate((form) => { form.noValidate = true; });
  await session.expectStatus(422, '/forgot', () => app.navigates(page, '/forgot',
    () => page.getByRole('button', { name: 'Email me a link' }).click()));
  await page.getByRole('alert').filter({ hasText: 'Enter an email address like name@example.com.' }).waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'ann at example');
  await checkPage(page, 'forgot-error');
});
