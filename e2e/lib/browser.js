'use strict';
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core: no browser download) and
// a per-test "session": a fresh context + page that records everything that should never
// happen in a flow (console errors, page errors, CSP violations, failed requests, responses
// >= 400 the test did not announce), plus axe-core and screenshot helpers.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { REPO, TARGET_DIR } = require('./server');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = process.env.E2E_ARTIFACTS || path.join(TARGET_DIR, 'e2e');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_BLOCKING = new Set(['serious', 'critical']);
const KNOWN = process.env.E2E_STRICT === '1' ? { axe: [] } : require('./known-bugs');
const reportedKnown = new Set(); // each known bug is printed once per test file

function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}

// Runs in every page before its own scripts (injected over the devtools protocol, so the
// page's CSP does not apply to it) and reports CSP violations to the test.
function watchCsp() {
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__e2eReportCsp({
      directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
      line: e.lineNumber, sample: e.sample, page: location.href,
    });
  });
}

const FAILED_TO_LOAD = /^Failed to load resource: the server responded with a status of (\d+)/;

/**
 * A fresh browser context and page against `baseURL`.
 * - `s.allowStatus(status, path)`: a response with that status for that path (string: exact
 *   pathname, or RegExp on the pathname) is expected from now on in this session.
 * - `s.expectStatus(status, path, action)`: same, only for the duration of `await action()`.
 * - `s.assertClean()`: fails listing everything recorded; call at the end of the test
 *   (`s.close()` does it for you).
 */
async function openSession(browser, baseURL, { viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ baseURL, viewport, colorScheme, locale: 'en-GB', timezoneId: 'UTC' });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const problems = [];
  const allowed = [];
  const isAllowed = (status, url) => {
    let pathname;
    try { pathname = new URL(url).pathname; } catch { return false; }
    return allowed.some((a) => a.status === status
      && (a.path instanceof RegExp ? a.path.test(pathname) : a.path === pathname));
  };

  await context.exposeBinding('__e2eReportCsp', (_source, v) => {
    problems.push(`CSP violation on ${v.page}: ${v.directive} blocked ${v.blocked || '(inline)'}`
      + `${v.source ? ` at ${v.source}:${v.line}` : ''}${v.sample ? ` sample=${JSON.stringify(v.sample)}` : ''}`);
  });
  await context.addInitScript(watchCsp);

  // Every page of the context (also popups and pages a flow opens later) is watched.
  const watch = (page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && !/Content Security Policy/i.test(msg.text())) return;
      const where = msg.location() && msg.location().url;
      const m = FAILED_TO_LOAD.exec(msg.text());
      if (m && where && isAllowed(Number(m[1]), where)) return;
      problems.push(`console ${msg.type()} on ${page.url()}: ${msg.text()}${where ? ` (${where})` : ''}`);
    });
    page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.stack || err}`));
    // A request the page itself gave up on because it navigated away (e.g. the favicon while a
    // form is submitted) is not a failure: only count aborts with no later navigation. The old
    // page may also start a request (the favicon, fetched after its load event) while the
    // navigation away is already under way: that one is cut off at the commit too.
    let requests = 0;
    let lastNavigation = 0;
    let navigating = false; // a main-frame navigation request is out, not yet committed
    const order = new WeakMap();
    const isMainNavigation = (req) => req.isNavigationRequest() && req.frame() === page.mainFrame();
    page.on('request', (req) => {
      const main = isMainNavigation(req);
      order.set(req, { n: ++requests, leaving: navigating && !main });
      if (main) { lastNavigation = requests; navigating = true; }
    });
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigating = false; });
    page.on('requestfailed', (req) => {
      if (isMainNavigation(req)) navigating = false;
      const error = req.failure() && req.failure().errorText;
      const o = order.get(req);
      if (error === 'net::ERR_ABORTED' && o && (lastNavigation > o.n || o.leaving)) return;
      problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure() && req.failure().errorText}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !isAllowed(res.status(), res.url())) {
        problems.push(`unexpected HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
      }
    });
    page.on('dialog', (d) => {
      problems.push(`unexpected JavaScript ${d.type()} dialog: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
  };
  context.on('page', watch);
  const page = await context.newPage();

  const session = {
    context,
    page,
    problems,
    allowStatus(status, p) { allowed.push({ status, path: p }); },
    async expectStatus(status, p, action) {
      const entry = { status, path: p };
      allowed.push(entry);
      let seen = false;
      const onResponse = (res) => {
        if (res.status() === status && isAllowed(status, res.url())) seen = true;
      };
      context.on('response', onResponse);
      try {
        return await action();
      } finally {
        context.off('response', onResponse);
        // Console "Failed to load resource" messages may trail the response slightly.
        await page.waitForTimeout(50);
        allowed.splice(allowed.indexOf(entry), 1);
        assert.ok(seen, `expected an HTTP ${status} response for ${p}`);
      }
    },
    assertClean() {
      assert.deepEqual(problems, [], `the browser recorded problems:\n  ${problems.join('\n  ')}`);
    },
    async close() {
      // Let late console messages / CSP reports arrive before judging.
      await page.waitForTimeout(50).catch(() => {});
      await context.close();
      session.assertClean();
    },
  };
  return session;
}

/** Runs axe-core on the page; fails on serious or critical violations, listing them. */
async function axe(page, label = page.url()) {
  // page.evaluate goes over the devtools protocol: not blocked by the page's CSP (a
  // <script> tag from addScriptTag would be, and would count as a CSP violation).
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  // axe's default rule set (WCAG 2.0-2.2 A/AA and best practices, no experimental rules).
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const format = (v, nodes = v.nodes) => `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n`
    + nodes.map((n) => `      ${n.target.join(' ')}\n        ${n.failureSummary.replace(/\n/g, '\n        ')}`).join('\n');
  const blocking = [];
  const notes = [];
  for (const v of result.violations) {
    if (!AXE_BLOCKING.has(v.impact)) {
      notes.push(`axe (${label}), not failing:\n${format(v)}`);
      continue;
    }
    const pathname = new URL(page.url()).pathname;
    const known = (n) => KNOWN.axe.find((k) => k.rule === v.id && n.target.join(' ') === k.target
      && (!k.path || k.path.test(pathname)));
    const unknownNodes = v.nodes.filter((n) => !known(n));
    for (const n of v.nodes.filter(known)) {
      const k = known(n);
      if (!reportedKnown.has(k)) notes.push(`KNOWN APP BUG (first seen on ${label}): ${v.id} on ${k.target}: ${k.note}`);
      reportedKnown.add(k);
    }
    if (unknownNodes.length) blocking.push(format(v, unknownNodes));
  }
  // The test runner shows a test file's stdout as comments: visible, not failing.
  for (const n of notes) process.stdout.write(`${n}\n`);
  assert.equal(blocking.length, 0,
    `axe found serious/critical violations on ${label} (${page.url()}):\n${blocking.join('\n')}`);
  return result.violations;
}

/** Saves a full-page screenshot as <target>/e2e/NAME.png. */
async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  // caret: 'initial': Playwright's default ('hide') sets caret-color on every input and leaves
  // an empty style="" attribute behind; htmx then copies that attribute onto the element that
  // replaces it in a swap (settle), which the app's CSP (no inline styles) rightly reports.
  await page.screenshot({ path: file, fullPage: true, caret: 'initial' });
  return file;
}

/** axe + screenshot: what every page visited in a flow should get. */
async function checkPage(page, name) {
  await screenshot(page, name);
  await axe(page, name);
}

module.exports = { launchBrowser, openSession, axe, screenshot, checkPage, CHROMIUM, SHOTS, REPO };
