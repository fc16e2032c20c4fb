'use strict';
// Sign up, sign in, sign out: the doors of the app.

const assert = require('node:assert/strict');
const { suite } = require('../lib/harness');
const { checkPage } = require('../lib/browser');
const app = require('../lib/app');

const { flow } = suite();

flow('sign up: check your email, open the link, sign in, land on the personal account', async ({ page, server }) => {
  const ann = app.newUser('Ann');
  await page.goto('/signup');
  await checkPage(page, 'signup');
  await page.getByLabel('Name').fill(ann.name);
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill(ann.password);
  await app.loads(page, '/signup', () => page.getByRole('button', { name: 'Create account' }).click());

  await app.heading(page).filter({ hasText: 'Check your email' }).waitFor();
  await page.getByText(`We sent a message to ${ann.email}.`).waitFor();
  await checkPage(page, 'signup-check-email');
  // Nobody is signed in yet.
  await page.goto('/');
  app.assertPath(page, '/login');

  const mail = await app.readVerificationEmail(server, ann.email);
  assert.match(mail.headers.subject, /Confirm your email address for Teamdeck/);
  await app.navigates(page, '/login', () => page.goto(mail.link));
  await page.getByRole('status').filter({ hasText: 'Your address is verified. Sign in to continue.' }).waitFor();
  await checkPage(page, 'login-verified');
  await app.signIn(page, ann);

  assert.equal(await app.heading(page).innerText(), ann.name);
  assert.match(await app.switcherButton(page).innerText(), /Personal/);
  await page.getByText('Your personal account', { exact: false }).first().waitFor();
  assert.equal(await page.getByText('Verify your email address').count(), 0, 'no banner once verified');
  await checkPage(page, 'overview-personal');
});

flow('until the address is verified, a banner offers a new link and team creation waits', async ({ page, session, server }) => {
  const ann = app.newUser('Ann');
  await page.goto('/signup');
  await page.getByLabel('Name').fill(ann.name);
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill(ann.password);
  await app.loads(page, '/signup', () => page.getByRole('button', { name: 'Create account' }).click());
  const first = await app.readVerificationEmail(server, ann.email);
  await app.signIn(page, ann);

  const banner = page.getByRole('note').filter({ hasText: `Verify your email address: we sent a link to ${ann.email}.` });
  await banner.waitFor();
  assert.ok(await page.getByRole('button', { name: 'Create team' }).isDisabled(), 'shown disabled, the banner says why');
  await checkPage(page, 'unverified-banner');
  const menu = await app.openSwitcher(page);
  assert.equal(await menu.getByRole('link', { name: 'Create team' }).count(), 0, 'not offered in the switcher');
  await menu.getByText('Create team (verify your email first)').waitFor();
  // Typed by hand, the address refuses and says why.
  await session.expectStatus(403, '/teams/new', () => app.navigates(page, '/teams/new', () => page.goto('/teams/new')));
  await page.getByText(`Verify your email address first: we sent a link to ${ann.email}.`).waitFor();
  await checkPage(page, 'unverified-refused');

  await app.navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Resend the link' }).click());
  await page.getByRole('status').filter({ hasText: `We sent a new link to ${ann.email}.` }).waitFor();
  const second = await app.readVerificationEmail(server, ann.email, { exclude: [first.file] });
  assert.notEqual(second.link, first.link);
  // The first link no longer works: its page says so and offers a new one.
  await session.expectStatus(410, /^\/verify\//, () => page.goto(first.link));
  await app.heading(page).filter({ hasText: "This link doesn't work" }).waitFor();
  await page.getByRole('button', { name: 'Send a new link' }).waitFor();
  await checkPage(page, 'verify-dead-link');
  await app.navigates(page, '/account', () => page.goto(second.link));
  await page.getByRole('status').filter({ hasText: `Your address ${ann.email} is verified.` }).waitFor();
  await app.createTeam(page, 'Verified Co');
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

flow('signing up with a taken email answers as a new sign-up does, and the owner gets an email', async ({ page, server }) => {
  const ann = app.newUser('Ann');
  await app.signUp(page, ann);
  await app.signOut(page, ann);
  const verification = await app.readVerificationEmail(server, ann.email);

  await page.getByRole('link', { name: 'Create one' }).click();
  await page.waitForURL((u) => u.pathname === '/signup');
  await page.getByLabel('Name').fill('Another Ann');
  await page.getByLabel('Email').fill(ann.email);
  await page.getByLabel('Password').fill('another password');
  await app.loads(page, '/signup', () => page.getByRole('button', { name: 'Create account' }).click());

  await app.heading(page).filter({ hasText: 'Check your email' }).waitFor();
  await page.getByText(`We sent a message to ${ann.email}.`).waitFor();
  const notice = await app.readEmail(server, ann.email, { exclude: [verification.file] });
  assert.match(notice.headers.subject, /Someone tried to sign up for Teamdeck with your address/);
  assert.match(notice.text, new RegExp(`${server.url}/login`));
  assert.match(notice.text, new RegExp(`${server.url}/forgot`));
});
