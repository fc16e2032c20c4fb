'use strict';
// Two-factor sign-in with an authenticator app: set up from "Your account" by reading the key
// the page shows (the codes computed here as an app does: RFC 6238, HMAC-SHA1, 6 digits, 30 s),
// recovery codes shown once, then signing in asks for the code after the password.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

/** RFC 4648 base32 → bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The app's code for the step `offset` steps from now. */
function totp(secret, offset = 0) {
  const step = Math.floor(Date.now() / 30_000) + offset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

flow('two-factor: an authenticator app is set up from the key on the page, then asked for at sign-in', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await page.goto('/account');
  await page.getByText('Off: your password alone signs you in.', { exact: false }).waitFor();
  await app.navigates(page, '/account/two-factor/app',
    () => page.getByRole('button', { name: 'Set up an authenticator app' }).click());
  assert.equal(await app.heading(page).innerText(), 'Set up an authenticator app');
  await page.getByRole('img', { name: 'QR code to scan with your authenticator app' }).waitFor();
  await checkPage(page, 'two-factor-setup');
  const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/);

  await page.getByLabel('The code the app shows now').fill(totp(secret));
  await page.getByLabel('Your password').fill(ann.password);
  await app.navigates(page, '/account/two-factor/app/confirm',
    () => page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click());
  assert.equal(await app.heading(page).innerText(), 'Your recovery codes');
  const codes = await page.locator('#recovery-codes li').allInnerTexts();
  assert.equal(codes.length, 10);
  const download = page.getByRole('link', { name: 'Download as text' });
  assert.equal(await download.getAttribute('download'), 'teamdeck-recovery-codes.txt');
  await checkPage(page, 'two-factor-recovery-codes');
  await app.navigates(page, '/account', () => page.getByRole('link', { name: 'Done' }).click());
  await page.getByText('unused recovery codes left', { exact: false }).waitFor();

  await app.signOut(page, ann);
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill(ann.password);
  await app.navigates(page, '/login/two-factor', () => page.getByRole('button', { name: 'Sign in' }).click());
  assert.equal(await app.heading(page).innerText(), 'Two-factor sign-in');
  await checkPage(page, 'two-factor-step');
  // A code from two minutes ago is refused; the code for the next step works (the one used to
  // set the app up is spent).
  await page.getByLabel('Code').fill(totp(secret, -4));
  await session.expectStatus(401, '/login/two-factor',
    () => app.loads(page, '/login/two-factor', () => page.getByRole('button', { name: 'Sign in' }).click()));
  await page.getByText("That code doesn't match.", { exact: false }).waitFor();
  await page.getByLabel('Code').fill(totp(secret, 1));
  await app.navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Sign in' }).click());
});
