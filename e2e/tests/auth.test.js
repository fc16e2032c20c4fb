'use strict';
// Sign up, sign in, sign out: the doors of the app.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

flow('sign up lands on the personal account overview with a welcome', async ({ page }) => {
  const ann = app.newUser('Ann');
  await page.goto('/signup');
  await checkPage(page, 'signup');
  await app.signUp(page, ann);

  await page.getByRole('status').filter({ hasText: `Welcome to Teamdeck, ${ann.name}.` }).waitFor();
  assert.equal(await app.heading(page).innerText(), ann.name);
  assert.match(await app.switcherButton(page).innerText(), /Personal/);
  await page.getByText('Your personal account', { exact: false }).first().waitFor();
  await checkPage(page, 'overview-personal');
});

flow('sign out from the user menu, sign in again, land on the personal account', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.userMenuButton(page, ann).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.getByRole('banner').getByText(ann.email).waitFor();
  await checkPage(page, 'user-menu-open');
  await app.navigates(page, '/login', () => page.getByRole('button', { name: 'Sign out' }).click());

  await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
  await checkPage(page, 'login-signed-out');
  // Signed out means signed out: the dashboard sends back to the sign-in page.
  await page.goto('/');
  app.assertPath(page, '/login');

  await app.signIn(page, ann);
  assert.equal(await app.heading(page).innerText(), ann.name);
  assert.match(await app.switcherButton(page).innerText(), /Personal/);
});

flow('a wrong password shows the error and keeps the email', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.signOut(page, ann);

  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill('not the password');
  await session.expectStatus(401, '/login', () => app.navigates(page, '/login',
    () => page.getByRole('button', { name: 'Sign in' }).click()));

  await page.getByRole('alert').filter({
    hasText: "That email and password don't match an account. Check them and try again.",
  }).waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), ann.email);
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  await checkPage(page, 'login-wrong-password');

  // And the right one still works.
  await page.getByLabel('Password').fill(ann.password);
  await app.navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Sign in' }).click());
  assert.equal(await app.heading(page).innerText(), ann.name);
});

flow('a signed-out visit to a page signs in and comes back to it', async ({ page }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.signOut(page, ann);

  await page.goto('/teams/new');
  app.assertPath(page, '/login');
  await checkPage(page, 'login');
  await app.signIn(page, ann, { landsOn: '/teams/new' });
  await page.getByLabel('Team name').waitFor();
});

flow('signing up with a taken email shows the error next to the field, values kept', async ({ page, session }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.signOut(page, ann);

  await page.getByRole('link', { name: 'Create one' }).click();
  await page.waitForURL((u) => u.pathname === '/signup');
  await page.getByLabel('Name').fill('Another Ann');
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill('another password');
  await session.expectStatus(422, '/signup', () => app.navigates(page, '/signup',
    () => page.getByRole('button', { name: 'Create account' }).click()));

  const email = page.getByLabel('Email');
  assert.equal(await email.inputValue(), ann.email);
  assert.equal(await page.getByLabel('Name').inputValue(), 'Another Ann');
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  const describedBy = await email.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${describedBy}`).innerText(), /already exists\. Sign in instead\./);
  await checkPage(page, 'signup-email-taken');
});
