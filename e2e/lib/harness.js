'use strict';
// One server (fresh database) and one Chromium per test file; one fresh browser context per
// flow. `flow()` checks, after every flow, that the browser recorded no console error, page
// error, CSP violation, failed request or unexpected HTTP error, and on failure saves a
// screenshot (target/e2e/FAILED-<name>.png) and appends the server's log.
//
//   const { suite } = require('../lib/harness');
//   const { flow } = suite();
//   flow('does a thing', async ({ page, session, newSession, server }) => { ... });

const { before, after, test } = require('node:test');
const { startServer } = require('./server');
const { launchBrowser, openSession, screenshot } = require('./browser');

const slugify = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

function suite({ serverArgs = [], serverEnv = {} } = {}) {
  const ctx = { server: null, browser: null };
  before(async () => {
    [ctx.server, ctx.browser] = await Promise.all([
      startServer({ args: serverArgs, env: serverEnv }),
      launchBrowser(),
    ]);
  });
  after(async () => {
    if (ctx.browser) await ctx.browser.close();
    if (ctx.server) await ctx.server.stop();
  });

  function flow(name, fn, options = {}) {
    test(name, { timeout: options.timeout || 60_000, skip: options.skip, todo: options.todo }, async () => {
      const sessions = [];
      const newSession = async (opts) => {
        const s = await openSession(ctx.browser, ctx.server.url, { ...options.session, ...opts });
        sessions.push(s);
        return s;
      };
      const main = await newSession();
      const logBefore = ctx.server.log().length;
      let failure = null;
      try {
        await fn({ page: main.page, session: main, newSession, server: ctx.server });
      } catch (e) {
        failure = e;
        for (const [i, s] of sessions.entries()) {
          await screenshot(s.page, `FAILED-${slugify(name)}${i ? `-${i}` : ''}`).catch(() => {});
        }
      }
      for (const s of sessions) {
        await s.page.waitForTimeout(50).catch(() => {});
        await s.context.close().catch(() => {});
      }
      const problems = sessions.flatMap((s) => s.problems);
      if (failure) {
        if (problems.length) failure.message += `\nthe browser also recorded:\n  ${problems.join('\n  ')}`;
        const log = ctx.server.log().slice(logBefore).trim();
        if (log) failure.message += `\nserver log during the flow:\n${log.slice(-4000)}`;
        throw failure;
      }
      for (const s of sessions) s.assertClean();
    });
  }

  return { flow, ctx };
}

module.exports = { suite };
