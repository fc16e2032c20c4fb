'use strict';
// Teamdeck's building blocks for flows, written the way a person uses the pages: visible
// labels, roles and texts. Add helpers here as features land (members, invites, keys).

const assert = require('node:assert/strict');

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

async function signUp(page, user) {
  await page.goto('/signup');
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await navigates(page, /^\/a\/[^/]+$/, () => page.getByRole('button', { name: 'Create account' }).click());
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

module.exports = {
  newUser, signUp, signIn, signOut, openSwitcher, switchTo, createTeam, messages,
  switcherButton, switcherMenu, userMenuButton, heading, navigates, assertPath, startsWithWord, exactly,
};
