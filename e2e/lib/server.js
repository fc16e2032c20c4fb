'use strict';
// Starts `target/debug/teamdeck serve` on a free port with a fresh data dir (so a fresh SQLite
// database) and stops it again. One server per test file: tests stay independent by signing
// up their own users (see `uniqueEmail` in app.js) in their own browser contexts.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR
  ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
  : path.join(REPO, 'target');
const BINARY = process.env.TEAMDECK_BIN || path.join(TARGET_DIR, 'debug', 'teamdeck');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startOnce({ args = [], env = {} } = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`cargo build --bin teamdeck\` (bash e2e/run.sh does)`);
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'teamdeck-e2e-'));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    BINARY,
    ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir,
      '--workers', '2', '--shutdown-timeout', '2', ...args],
    {
      cwd: dataDir,
      env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exit) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const err = new Error(`teamdeck exited during start-up (${JSON.stringify(exit)}):\n${log}`);
      err.addrInUse = /address already in use|AddrInUse/i.test(log);
      throw err;
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`teamdeck did not answer /healthz within 20 s:\n${log}`);
    }
    await sleep(50);
  }

  return {
    url,
    port,
    dataDir,
    log: () => log,
    /** SIGTERM, wait for a clean exit (SIGKILL after 10 s and fail), remove the data dir. */
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        let timer;
        const timeout = new Promise((r) => { timer = setTimeout(() => r('timeout'), 10_000); });
        const outcome = await Promise.race([exited, timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          child.kill('SIGKILL');
          await exited;
          throw new Error(`teamdeck did not exit within 10 s of SIGTERM:\n${log}`);
        }
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (exit.code !== 0 && exit.signal !== 'SIGTERM') {
        throw new Error(`teamdeck exited with ${JSON.stringify(exit)}:\n${log}`);
      }
    },
  };
}

let current = null;

/** Starts a server; retries when another process grabbed the free port in between. */
async function startServer(options) {
  for (let attempt = 1; ; attempt++) {
    try {
      current = await startOnce(options);
      return current;
    } catch (e) {
      if (!e.addrInUse || attempt >= 3) throw e;
    }
  }
}

/** The server this test file started last (each file runs in a process of its own). */
function currentServer() {
  if (!current) throw new Error('no server started in this test file');
  return current;
}

module.exports = { startServer, currentServer, REPO, TARGET_DIR, BINARY };
