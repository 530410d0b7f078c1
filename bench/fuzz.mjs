#!/usr/bin/env node
// @ts-check
/**
 * Hostile-client fuzzing of the server (`npm run fuzz`, which builds first).
 *
 * A TlslpServer in a child process (bench/server-child.mjs; mutual TLS, n_bits 6, short
 * deadlines: handshake 1 s, steps 1 s, WORK 3 s) gets a bounded number of hostile clients
 * (random bytes before and after the TLS handshake, plain TCP, no or foreign client
 * certificates, idle and trickling sockets, overlong lines, invalid UTF-8, wrong answers,
 * disconnects at every step, floods), interleaved with well-behaved clients (runClient with
 * a good certificate, one per --good-every hostile cases). Every choice comes from a seeded
 * PRNG (--seed), so a run can be repeated; only the interleaving in time varies.
 *
 * It reports: cases tried by kind, server crashes (the child exiting unexpectedly: counted,
 * and the run stops), well-behaved sessions started and completed (a server-drawn FAIL is a
 * completed session), sockets still open after a settle period (client sockets not closed,
 * server sessions in flight and open connections), the server's answer to each kind, and
 * whether idle and trickling connections were cut within their deadline (+ --slack-ms).
 *
 *   node bench/fuzz.mjs [--cases N] [--seed S] [--concurrency C] [--good-every K]
 *                       [--slack-ms MS] [--kinds k1,k2,…] [--deadline SECONDS] [--strict]
 *                       [--verbose] [--json]
 *
 * Exit status 0 only when there was no crash, every well-behaved session completed and no
 * socket leaked (--strict: and no deadline violation and no unexpected answer). With --json
 * the last line of output is one JSON object. Loopback only; stops by itself.
 */
import { benchArgs } from './args.mjs';
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
  process.stderr.write('bench/fuzz.mjs: dist/ is missing: run npm run build first\n');
  process.exit(2);
}
const lib = await import('tlslp');
const {
  FAIL_REASONS,
  ServerFailError,
  checksum,
  closeSolverPool,
  generateCertificateSet,
  runClient,
  verifyWork,
} = lib;

const USAGE =
  'usage: node bench/fuzz.mjs [--cases N] [--seed S] [--concurrency C] [--good-every K] [--slack-ms MS]\n' +
  '                           [--kinds k1,k2,…] [--deadline SECONDS] [--strict] [--verbose] [--json]\n';
const { opts, int: intFlag } = benchArgs('bench/fuzz.mjs', USAGE, {
  cases: { type: 'string', default: '1500' },
  seed: { type: 'string', default: '20261129' },
  concurrency: { type: 'string', default: '48' },
  'good-every': { type: 'string', default: '10' },
  'slack-ms': { type: 'string', default: '500' },
  deadline: { type: 'string', default: '85' },
  kinds: { type: 'string' },
  strict: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});
const CASES = intFlag('cases', 1);
const SEED = intFlag('seed', 0);
const CONCURRENCY = intFlag('concurrency', 1);
const GOOD_EVERY = intFlag('good-every', 1);
const SLACK = intFlag('slack-ms', 0);
const DEADLINE_MS = intFlag('deadline', 5) * 1000;

/** The server's limits for this run. */
const LIMITS = {
  nBits: 6,
  handshakeTimeoutMs: 1000,
  otherTimeoutMs: 1000,
  workTimeoutMs: 3000,
  // Every case comes from 127.0.0.1: the per-IP budgets would turn most hostile cases into
  // refusals before TLS and the fuzz would no longer reach the session code. The attack
  // harness (bench/attack.mjs) measures those budgets.
  maxHandshakeFailuresPerIp: 0,
  maxHandshakesPerIp: 1000,
};
const STARTED = performance.now();
const out = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32): the plan of every case is drawn before it runs.

function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    pick: (xs) => xs[int(xs.length)],
    chance: (p) => next() < p,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    text: (n, alphabet) => {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
      return s;
    },
  };
}

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const PRINTABLE =
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const HEX = '0123456789abcdef';

/** Byte sequences that are not UTF-8. */
const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xc3], // truncated
  [0xe2, 0x82], // truncated
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
];

/** Hostile kinds and their weights. */
const KINDS = {
  'tcp-close': 4, // plain TCP connect, then close (FIN or RST)
  'tcp-idle': 3, // plain TCP connect, say nothing: cut at the handshake deadline
  'pre-tls-random': 6, // random bytes instead of a ClientHello
  'pre-tls-trickle': 3, // a TLS record header, then a byte every 100-300 ms: cut at the handshake deadline
  'tls-no-cert': 4, // TLS without a client certificate
  'tls-foreign-ca': 4, // a client certificate from another CA
  'tls-idle': 3, // mutual TLS, then silence: FAIL at the step deadline
  'post-tls-random': 6, // random bytes after the handshake
  'trickle-hello': 3, // HELLOBACK a byte at a time, too slow: cut at the step deadline
  'trickle-work': 2, // a suffix a byte at a time, too slow: cut at the WORK deadline
  'trickle-body': 3, // a body reply a byte at a time, too slow: cut at the step deadline
  overlong: 6, // a line around and past the 1000-byte limit
  'invalid-utf8': 5, // a line that is not UTF-8
  'wrong-helloback': 5, // not HELLOBACK
  'wrong-suffix': 5, // a suffix that is malformed or does not solve WORK
  'wrong-checksum': 5, // a body reply with a wrong checksum
  'wrong-ok': 2, // anything but OK after DONE
  disconnect: 10, // hang up at some step (before, within or after a line)
  flood: 6, // many lines at once
  'half-open': 4, // after the server's FAIL or DONE, never close (allowHalfOpen), maybe keep writing
};
if (opts.kinds) {
  const wanted = new Set(opts.kinds.split(',').map((k) => k.trim()));
  for (const k of wanted) {
    if (!(k in KINDS)) {
      process.stderr.write(
        `bench/fuzz.mjs: unknown kind ${k} (kinds: ${Object.keys(KINDS).join(', ')})\n`,
      );
      process.exit(2);
    }
  }
  for (const k of Object.keys(KINDS)) if (!wanted.has(k)) delete KINDS[k];
}
const KIND_NAMES = Object.keys(KINDS);
const KIND_TOTAL = Object.values(KINDS).reduce((a, b) => a + b, 0);

function pickKind(rng) {
  let x = rng.int(KIND_TOTAL);
  for (const k of KIND_NAMES) {
    x -= KINDS[k];
    if (x < 0) return k;
  }
  return KIND_NAMES[0];
}

/** Everything random about one hostile case, drawn up front. */
function planCase(rng, index) {
  const kind = pickKind(rng);
  const p = { index, kind, tls12: rng.chance(0.2) };
  switch (kind) {
    case 'tcp-close':
      p.how = rng.pick(['end', 'destroy', 'reset']);
      p.delayMs = rng.pick([0, 0, 5, 50]);
      break;
    case 'pre-tls-random':
      p.data = rng.bytes(rng.pick([1, 5, rng.range(2, 64), rng.range(64, 4096)]));
      if (rng.chance(0.3)) p.data[0] = 0x16; // looks like a handshake record
      p.thenClose = rng.pick([null, 'end', 'destroy', 'reset']);
      break;
    case 'pre-tls-trickle':
      p.header = Buffer.from([0x16, 0x03, 0x01, rng.range(1, 0x3f), rng.int(256)]);
      p.intervalMs = rng.range(100, 300);
      p.data = rng.bytes(40);
      break;
    case 'post-tls-random':
      p.afterHello = rng.chance(0.7);
      p.data = rng.bytes(rng.pick([1, rng.range(2, 200), rng.range(200, 3000)]));
      if (rng.chance(0.5)) p.data[p.data.length - 1] = 0x0a;
      break;
    case 'trickle-hello':
      p.line = rng.pick(['HELLOBACK', 'HELLOBACK', `HELLOBACK${rng.text(20, TOKEN_ALPHABET)}`]);
      p.intervalMs = Math.ceil((2 * LIMITS.otherTimeoutMs) / p.line.length) + rng.int(50);
      break;
    case 'trickle-work':
      p.line = rng.text(128, TOKEN_ALPHABET);
      p.intervalMs = Math.ceil((2 * LIMITS.workTimeoutMs) / p.line.length) + rng.int(20);
      break;
    case 'trickle-body':
      p.value = rng.text(20, PRINTABLE);
      p.intervalMs = Math.ceil((2 * LIMITS.otherTimeoutMs) / 85) + rng.int(10);
      break;
    case 'overlong': {
      p.step = rng.pick(['hello', 'work', 'body']);
      const length = rng.pick([
        998,
        999,
        1000,
        1001,
        rng.range(1000, 2000),
        rng.range(2000, 20000),
        70_000,
      ]);
      p.content = rng.text(length, TOKEN_ALPHABET);
      p.newline = rng.chance(0.7);
      p.chunked = rng.chance(0.5);
      break;
    }
    case 'invalid-utf8': {
      p.step = rng.pick(['hello', 'work', 'body']);
      const bad = Buffer.from(rng.pick(INVALID_UTF8));
      const pre = Buffer.from(rng.text(rng.int(20), TOKEN_ALPHABET));
      p.data = Buffer.concat([
        pre,
        bad,
        Buffer.from(rng.text(rng.int(20), TOKEN_ALPHABET)),
        Buffer.from('\n'),
      ]);
      break;
    }
    case 'wrong-helloback':
      p.line = rng.pick([
        '',
        'helloback',
        'HELLOBACK ',
        ' HELLOBACK',
        'HELLOBACK\r',
        'HELLO',
        'HELLOBACKK',
        'OK',
        rng.text(rng.range(1, 100), PRINTABLE),
        'HELLOBACK\u0000',
        'ＨＥＬＬＯＢＡＣＫ',
      ]);
      break;
    case 'wrong-suffix':
      p.strategy = rng.pick([
        'unsolved',
        'unsolved',
        'empty',
        'bad-chars',
        'too-long',
        'space',
        'unicode',
      ]);
      p.candidate = rng.text(rng.range(1, 32), TOKEN_ALPHABET);
      break;
    case 'wrong-checksum':
      p.atStep = rng.int(4);
      p.strategy = rng.pick([
        'random-hex',
        'upper',
        'other-arg',
        'no-space',
        'short',
        'empty',
        'prefix-space',
      ]);
      p.random = rng.text(64, HEX);
      break;
    case 'wrong-ok':
      p.line = rng.pick(['', 'ok', 'OK ', 'DONE', 'HELLOBACK', rng.text(10, PRINTABLE)]);
      break;
    case 'disconnect':
      p.at = rng.pick([
        'after-tls',
        'after-hello',
        'after-helloback',
        'after-work',
        'mid-suffix',
        'after-suffix',
        'mid-body',
        'after-body',
      ]);
      p.how = rng.pick(['end', 'destroy']);
      p.bodyReplies = rng.int(5);
      p.partial = rng.text(rng.range(1, 60), TOKEN_ALPHABET);
      break;
    case 'flood': {
      p.step = rng.pick(['hello', 'hello', 'work', 'body']);
      p.lines = rng.pick([2, rng.range(3, 30), rng.range(30, 500), 5000]);
      p.line = rng.pick(['HELLOBACK', '', 'OK', rng.text(rng.range(1, 80), TOKEN_ALPHABET)]);
      p.writes = rng.pick([1, 1, rng.range(2, 20)]);
      break;
    }
    case 'half-open':
      p.trigger = rng.pick(['wrong-hello', 'wrong-hello', 'timeout', 'session-end']);
      p.keepWriting = rng.chance(0.5);
      break;
    default:
      break;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// The server child

/** @type {import('node:child_process').ChildProcess} */
let child;
let childExpectedExit = false;
let crashes = 0;
let crashInfo = null;
const stop = new AbortController();
setMaxListeners(0, stop.signal);
const waiting = new Map();

function request(type, extra = {}, answer = type) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return reject(new Error('server child has exited'));
    const timer = setTimeout(() => {
      waiting.delete(answer);
      reject(new Error(`server child did not answer ${type}`));
    }, 15_000);
    waiting.set(answer, {
      resolve: (m) => (clearTimeout(timer), resolve(m)),
      reject: (e) => (clearTimeout(timer), reject(e)),
    });
    child.send({ type, ...extra });
  });
}

async function startServer(certs) {
  child = fork(fileURLToPath(new URL('./server-child.mjs', import.meta.url)), [], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (/** @type {any} */ msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      w.resolve(msg);
    }
  });
  child.once('exit', (code, signal) => {
    for (const [, w] of waiting)
      w.reject(new Error(`server child exited (code ${code}, signal ${signal})`));
    waiting.clear();
    if (!childExpectedExit || code !== 0) {
      crashes++;
      crashInfo = { code, signal, atMs: Math.round(performance.now() - STARTED) };
      stop.abort(new Error('server crashed'));
    }
  });
  const msg = await request(
    'start',
    {
      mode: 'tlslp',
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
      server: LIMITS,
    },
    'listening',
  );
  return msg.port;
}

async function closeServer() {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  childExpectedExit = true;
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  await request('close', {}, 'closed').catch(() => undefined);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

process.on('exit', () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------------------------
// Client-side plumbing: every socket is tracked until it closes.

/** Client sockets not closed yet. */
const live = new Set();
let port = 0;
let certs;
let foreign;

function track(socket) {
  live.add(socket);
  socket.once('close', () => live.delete(socket));
  socket.on('error', () => {});
  return socket;
}

/** A socket with its received lines and the moment it closed. */
class Conn {
  constructor(socket) {
    this.socket = socket;
    this.lines = [];
    /** Arrival time of each line. */
    this.times = [];
    this.partial = '';
    this.closedAt = null;
    /** When the server's end (FIN / close_notify) arrived. */
    this.endedAt = null;
    this.error = null;
    this.waiters = [];
    this.read = 0;
    socket.on('data', (chunk) => {
      if (this.partial.length > 4096) return;
      const text = this.partial + chunk.toString('latin1');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      const now = performance.now();
      for (const l of parts) {
        this.lines.push(l);
        this.times.push(now);
      }
      this.wake();
    });
    socket.on('error', (err) => {
      this.error ??= err.code ?? err.message;
    });
    socket.once('end', () => {
      this.endedAt = performance.now();
      this.wake();
    });
    socket.once('close', () => {
      this.closedAt = performance.now();
      this.wake();
    });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  get closed() {
    return this.closedAt !== null;
  }

  /** The next line from the server, or null when the connection closed or `ms` passed. */
  async line(ms) {
    const until = performance.now() + ms;
    while (this.read >= this.lines.length) {
      if (this.closed) return null;
      const left = until - performance.now();
      if (left <= 0) return null;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve(undefined);
        });
      });
    }
    return this.lines[this.read++];
  }

  /** Arrival time of the line last returned by {@link line}. */
  get lastLineAt() {
    return this.times[this.read - 1] ?? performance.now();
  }

  /** Wait until the server ends its side or the socket closes (true), or `ms` passes (false). */
  async endedWithin(ms) {
    return this.waitFor(() => this.endedAt !== null || this.closed, ms);
  }

  /** Wait until the socket closes (true) or `ms` passes (false). */
  async closedWithin(ms) {
    return this.waitFor(() => this.closed, ms);
  }

  async waitFor(test, ms) {
    const until = performance.now() + ms;
    while (!test()) {
      const left = until - performance.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve(undefined);
        });
      });
    }
    return true;
  }

  write(data) {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  /** What the server said last: its FAIL line, or how the connection ended. */
  verdict() {
    const fail = this.lines.findLast((l) => l.startsWith('FAIL'));
    if (fail !== undefined) return classifyFail(fail.slice(5));
    if (this.lines.includes('DONE')) return this.closed ? 'DONE, closed' : 'DONE';
    if (!this.closed) return 'still open';
    return `closed${this.error ? ` (${this.error})` : ''}`;
  }
}

/** @type {Set<string>} */
const SERVER_REASONS = new Set(Object.values(FAIL_REASONS));
function classifyFail(reason) {
  if (SERVER_REASONS.has(reason)) return `FAIL ${reason}`;
  if (/^[A-Za-z0-9_-]{1,128}$/.test(reason)) return 'FAIL (drawn)';
  return `FAIL ${JSON.stringify(reason.slice(0, 40))}`;
}

function tcpConnect() {
  return new Promise((resolve, reject) => {
    const socket = track(net.connect({ host: '127.0.0.1', port }));
    const conn = new Conn(socket);
    socket.once('connect', () => resolve({ conn, at: performance.now() }));
    socket.once('error', (err) => reject(err));
  });
}

/**
 * Mutual TLS with `material` (null: no client certificate). Resolves on secureConnect.
 * `halfOpen`: the socket stays open after the server's end until we close it.
 */
function tlsConnect(material, tls12, halfOpen = false) {
  return new Promise((resolve, reject) => {
    const socket = track(
      tls.connect({
        ...(halfOpen
          ? {
              socket: net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }),
            }
          : { host: '127.0.0.1', port }),
        ca: certs.caCert,
        ...(material ? { cert: material.cert, key: material.key } : {}),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(tls12 ? { maxVersion: 'TLSv1.2' } : {}),
      }),
    );
    const conn = new Conn(socket);
    const onError = (err) => reject(Object.assign(err, { conn }));
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      resolve({ conn, at: performance.now() });
    });
  });
}

const good = () => ({ cert: certs.clientCert, key: certs.clientKey });

/** Solve WORK the simple way (n_bits 6: about 64 tries). */
function solve(token, nBits) {
  for (let i = 0; ; i++) {
    const s = i.toString(36);
    if (verifyWork(token, s, nBits)) return s;
  }
}

/** A session played correctly up to a point: 'hello' (HELLO read), 'work' (WORK read), 'body' (a body command read). */
async function reach(conn, step, bodyReplies = 0) {
  const hello = await conn.line(3000);
  if (hello !== 'HELLO') return null;
  if (step === 'hello') return { line: hello, at: conn.lastLineAt };
  conn.write('HELLOBACK\n');
  const work = await conn.line(3000);
  if (!work?.startsWith('WORK ')) return null;
  const [, token, bits] = work.split(' ');
  if (step === 'work') return { line: work, at: conn.lastLineAt, token, nBits: Number(bits) };
  conn.write(`${solve(token, Number(bits))}\n`);
  for (let i = 0; ; i++) {
    const cmd = await conn.line(3000);
    if (cmd === null || cmd.startsWith('FAIL') || cmd === 'DONE')
      return cmd === 'DONE' && step === 'done' ? { line: cmd, at: conn.lastLineAt, token } : null;
    if (i >= bodyReplies && step === 'body')
      return { line: cmd, at: conn.lastLineAt, token, arg: cmd.split(' ')[1] };
    conn.write(`${checksum(token, cmd.split(' ')[1])} x\n`);
  }
}

function hangUp(conn, how) {
  if (how === 'reset' && typeof conn.socket.resetAndDestroy === 'function')
    conn.socket.resetAndDestroy();
  else if (how === 'end') conn.socket.end();
  else conn.socket.destroy();
}

// ---------------------------------------------------------------------------------------------
// The hostile cases. Each returns { verdict, deadline?: { limitMs, ms } }: `ms` is the time
// from the start of the step to the close (null: not closed within the cap).

const CAP_SLACK = Math.max(2000, SLACK * 2);

async function untilClosed(conn, anchor, limitMs) {
  const closed = await conn.closedWithin(
    Math.max(0, anchor + limitMs + CAP_SLACK - performance.now()),
  );
  return { limitMs, ms: closed ? conn.closedAt - anchor : null };
}

const RUN = {
  async 'tcp-close'(p) {
    const { conn } = await tcpConnect();
    if (p.delayMs) await sleep(p.delayMs);
    hangUp(conn, p.how);
    await conn.closedWithin(2000);
    return { verdict: 'client hung up' };
  },

  async 'tcp-idle'() {
    const { conn, at } = await tcpConnect();
    const deadline = await untilClosed(conn, at, LIMITS.handshakeTimeoutMs);
    return { verdict: conn.verdict(), deadline };
  },

  async 'pre-tls-random'(p) {
    const { conn, at } = await tcpConnect();
    conn.write(p.data);
    if (p.thenClose) {
      hangUp(conn, p.thenClose);
      await conn.closedWithin(2000);
      return { verdict: 'client hung up' };
    }
    const deadline = await untilClosed(conn, at, LIMITS.handshakeTimeoutMs);
    return { verdict: conn.verdict(), deadline };
  },

  async 'pre-tls-trickle'(p) {
    const { conn, at } = await tcpConnect();
    conn.write(p.header);
    const trickle = (async () => {
      for (const byte of p.data) {
        if (conn.closed) return;
        await sleep(p.intervalMs);
        conn.write(Buffer.of(byte));
      }
    })();
    const deadline = await untilClosed(conn, at, LIMITS.handshakeTimeoutMs);
    conn.socket.destroy();
    await trickle;
    return { verdict: conn.verdict(), deadline };
  },

  async 'tls-no-cert'(p) {
    return badCertificate(null, p.tls12);
  },

  async 'tls-foreign-ca'(p) {
    return badCertificate({ cert: foreign.clientCert, key: foreign.clientKey }, p.tls12);
  },

  async 'tls-idle'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const hello = await reach(conn, 'hello');
    if (!hello) return { verdict: `no HELLO: ${conn.verdict()}` };
    const deadline = await untilClosed(conn, hello.at, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline };
  },

  async 'post-tls-random'(p) {
    const { conn, at } = await tlsConnect(good(), p.tls12);
    let anchor = at;
    if (p.afterHello) {
      const hello = await reach(conn, 'hello');
      if (!hello) return { verdict: `no HELLO: ${conn.verdict()}` };
      anchor = hello.at;
    }
    conn.write(p.data);
    const deadline = await untilClosed(conn, anchor, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline: p.afterHello ? deadline : undefined };
  },

  async 'trickle-hello'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const hello = await reach(conn, 'hello');
    if (!hello) return { verdict: `no HELLO: ${conn.verdict()}` };
    return trickle(conn, hello.at, `${p.line}\n`, p.intervalMs, LIMITS.otherTimeoutMs);
  },

  async 'trickle-work'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const work = await reach(conn, 'work');
    if (!work) return { verdict: `no WORK: ${conn.verdict()}` };
    return trickle(conn, work.at, `${p.line}\n`, p.intervalMs, LIMITS.workTimeoutMs);
  },

  async 'trickle-body'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const body = await reach(conn, 'body');
    if (!body) return { verdict: `ended before a body step: ${conn.verdict()}` };
    return trickle(
      conn,
      body.at,
      `${checksum(body.token, body.arg)} ${p.value}\n`,
      p.intervalMs,
      LIMITS.otherTimeoutMs,
    );
  },

  async overlong(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, p.step);
    if (!at) return { verdict: `ended before the ${p.step} step: ${conn.verdict()}` };
    const data = Buffer.from(p.newline ? `${p.content}\n` : p.content);
    if (p.chunked)
      for (let i = 0; i < data.length && !conn.closed; i += 700)
        conn.write(data.subarray(i, i + 700));
    else conn.write(data);
    const limit = p.step === 'work' ? LIMITS.workTimeoutMs : LIMITS.otherTimeoutMs;
    const deadline = await untilClosed(conn, at.at, limit);
    return { verdict: conn.verdict(), deadline, expect: expectOverlong(p) };
  },

  async 'invalid-utf8'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, p.step);
    if (!at) return { verdict: `ended before the ${p.step} step: ${conn.verdict()}` };
    conn.write(p.data);
    const deadline = await untilClosed(conn, at.at, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.invalidUtf8}`] };
  },

  async 'wrong-helloback'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, 'hello');
    if (!at) return { verdict: `no HELLO: ${conn.verdict()}` };
    conn.write(`${p.line}\n`);
    const deadline = await untilClosed(conn, at.at, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.badHello}`] };
  },

  async 'wrong-suffix'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, 'work');
    if (!at) return { verdict: `no WORK: ${conn.verdict()}` };
    let suffix;
    switch (p.strategy) {
      case 'unsolved':
        suffix = p.candidate;
        for (let i = 0; verifyWork(at.token, suffix, Number(at.nBits)); i++)
          suffix = `${p.candidate}${i}`;
        break;
      case 'empty':
        suffix = '';
        break;
      case 'bad-chars':
        suffix = `${p.candidate}!`;
        break;
      case 'too-long':
        suffix = `${p.candidate}${'a'.repeat(129)}`;
        break;
      case 'space':
        suffix = `${solve(at.token, at.nBits)} `;
        break;
      default:
        suffix = `${solve(at.token, at.nBits)}é`;
    }
    conn.write(`${suffix}\n`);
    const deadline = await untilClosed(conn, at.at, LIMITS.workTimeoutMs);
    return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.badSuffix}`] };
  },

  async 'wrong-checksum'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, 'body', p.atStep);
    if (!at) return { verdict: `ended before the body step: ${conn.verdict()}` };
    const right = checksum(at.token, at.arg);
    const line = {
      'random-hex': `${p.random === right ? p.random.replace(/.$/, 'x') : p.random} v`,
      upper: `${right.toUpperCase()} v`,
      'other-arg': `${checksum(at.token, `${at.arg}x`)} v`,
      'no-space': `${right}v`,
      short: `${right.slice(0, 63)} v`,
      empty: '',
      'prefix-space': ` ${right} v`,
    }[p.strategy];
    conn.write(`${line}\n`);
    const deadline = await untilClosed(conn, at.at, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.badChecksum}`] };
  },

  async 'wrong-ok'(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, 'done');
    if (!at) return { verdict: `ended before DONE: ${conn.verdict()}` };
    conn.write(`${p.line}\n`);
    const deadline = await untilClosed(conn, at.at, LIMITS.otherTimeoutMs);
    return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.badOk}`] };
  },

  async disconnect(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const upTo = {
      'after-tls': null,
      'after-hello': 'hello',
      'after-helloback': 'hello',
      'after-work': 'work',
      'mid-suffix': 'work',
      'after-suffix': 'work',
      'mid-body': 'body',
      'after-body': 'body',
    }[p.at];
    const at = upTo ? await reach(conn, upTo, p.bodyReplies) : { line: '' };
    if (at) {
      if (p.at === 'after-helloback') conn.write('HELLOBACK\n');
      if (p.at === 'mid-suffix' || p.at === 'mid-body') conn.write(p.partial);
      if (p.at === 'after-suffix') conn.write(`${solve(at.token, at.nBits)}\n`);
      if (p.at === 'after-body') conn.write(`${checksum(at.token, at.arg)} x\n`);
    }
    hangUp(conn, p.how);
    await conn.closedWithin(2000);
    return { verdict: at ? 'client hung up' : `ended early: ${conn.verdict()}` };
  },

  async flood(p) {
    const { conn } = await tlsConnect(good(), p.tls12);
    const at = await reach(conn, p.step);
    if (!at) return { verdict: `ended before the ${p.step} step: ${conn.verdict()}` };
    const all = Buffer.from(`${p.line}\n`.repeat(p.lines));
    const per = Math.ceil(all.length / p.writes);
    for (let i = 0; i < all.length && !conn.closed; i += per) conn.write(all.subarray(i, i + per));
    const limit = p.step === 'work' ? LIMITS.workTimeoutMs : LIMITS.otherTimeoutMs;
    const deadline = await untilClosed(conn, at.at, limit);
    return { verdict: conn.verdict(), deadline };
  },
};

RUN['half-open'] = async (p) => {
  const { conn } = await tlsConnect(good(), p.tls12, true);
  let ended = null;
  if (p.trigger === 'wrong-hello' || p.trigger === 'timeout') {
    const hello = await reach(conn, 'hello');
    if (!hello) return { verdict: `no HELLO: ${conn.verdict()}` };
    if (p.trigger === 'wrong-hello') conn.write('HELLOBACKX\n');
  } else {
    // Play the session correctly until the server ends it (drawn FAIL or DONE/OK).
    const hello = await reach(conn, 'work');
    if (!hello) return { verdict: `no WORK: ${conn.verdict()}` };
    const token = hello.token;
    conn.write(`${solve(token, hello.nBits)}\n`);
    for (;;) {
      const line = await conn.line(3000);
      if (line === null || line.startsWith('FAIL')) break;
      if (line === 'DONE') {
        conn.write('OK\n');
        break;
      }
      conn.write(`${checksum(token, line.split(' ')[1])} x\n`);
    }
  }
  // Wait for the server's end (after its FAIL, or after OK), then stay: never close.
  await conn.endedWithin(LIMITS.workTimeoutMs + 1000);
  if (conn.closed || conn.endedAt === null)
    return { verdict: `server did not end: ${conn.verdict()}` };
  ended = conn.endedAt;
  let writing = p.keepWriting;
  const writer = (async () => {
    while (writing && !conn.closed) {
      conn.write('still here\n');
      await sleep(200);
    }
  })();
  // There is no documented deadline for this: measured against the step timeout.
  const deadline = await untilClosed(conn, ended, LIMITS.otherTimeoutMs);
  const verdict = `${conn.verdict()}${deadline.ms === null ? ', server kept the connection' : ''}`;
  writing = false;
  conn.socket.destroy();
  await writer;
  return { verdict, deadline };
};

async function badCertificate(material, tls12) {
  let conn;
  let at;
  try {
    ({ conn, at } = await tlsConnect(material, tls12));
  } catch (err) {
    // TLS 1.2: the server refuses the certificate inside the handshake.
    conn = err.conn;
    at = performance.now();
    await conn?.closedWithin(2000);
    return { verdict: `refused in the handshake (${err.code ?? err.message})` };
  }
  // TLS 1.3: the client finishes first; the server's alert follows.
  const deadline = await untilClosed(conn, at, LIMITS.handshakeTimeoutMs);
  if (conn.lines.length > 0)
    return { verdict: `SERVED A SESSION: ${conn.lines[0]}`, deadline, expect: ['refused'] };
  return { verdict: `refused after the handshake (${conn.error ?? 'closed'})`, deadline };
}

async function trickle(conn, anchor, line, intervalMs, limitMs) {
  const bytes = Buffer.from(line);
  const sending = (async () => {
    for (const byte of bytes) {
      if (conn.closed) return;
      conn.write(Buffer.of(byte));
      await sleep(intervalMs);
    }
  })();
  const deadline = await untilClosed(conn, anchor, limitMs);
  conn.socket.destroy();
  await sending;
  return { verdict: conn.verdict(), deadline, expect: [`FAIL ${FAIL_REASONS.timeout}`] };
}

function expectOverlong(p) {
  const bytes = Buffer.byteLength(p.content);
  if (bytes >= 1000) return [`FAIL ${FAIL_REASONS.lineTooLong}`];
  if (!p.newline) return [`FAIL ${FAIL_REASONS.timeout}`];
  return null; // a line within the limit: whatever a wrong answer gets
}

// ---------------------------------------------------------------------------------------------
// Well-behaved sessions

const goodResults = { started: 0, completed: 0, done: 0, failDrawn: 0, failedByReason: {} };

async function runGood() {
  goodResults.started++;
  try {
    await runClient({
      host: '127.0.0.1',
      ports: [port],
      tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
      solverOptions: { threads: 1 },
      otherTimeoutMs: 5000,
      workTimeoutMs: 5000,
      signal: stop.signal,
    });
    goodResults.completed++;
    goodResults.done++;
  } catch (err) {
    if (
      err instanceof ServerFailError &&
      !SERVER_REASONS.has(err.reason) &&
      /^[A-Za-z0-9_-]{1,128}$/.test(err.reason)
    ) {
      goodResults.completed++;
      goodResults.failDrawn++;
    } else {
      const reason =
        err instanceof ServerFailError
          ? `FAIL ${err.reason}`
          : (err?.code ?? err?.name ?? 'UNKNOWN');
      goodResults.failedByReason[reason] = (goodResults.failedByReason[reason] ?? 0) + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

/** Per kind: count, verdicts, deadline measurements. */
const byKind = {};
const violations = [];
const unexpected = [];
const harnessErrors = {};

function record(p, result, startedAt) {
  const k = (byKind[p.kind] ??= {
    count: 0,
    verdicts: {},
    measured: 0,
    maxOverMs: -Infinity,
    closeMs: [],
  });
  k.count++;
  k.verdicts[result.verdict] = (k.verdicts[result.verdict] ?? 0) + 1;
  const d = result.deadline;
  if (d) {
    k.measured++;
    if (d.ms === null) {
      violations.push({
        index: p.index,
        kind: p.kind,
        limitMs: d.limitMs,
        ms: null,
        verdict: result.verdict,
      });
    } else {
      k.closeMs.push(d.ms);
      k.maxOverMs = Math.max(k.maxOverMs, d.ms - d.limitMs);
      if (d.ms > d.limitMs + SLACK) {
        violations.push({
          index: p.index,
          kind: p.kind,
          limitMs: d.limitMs,
          ms: Math.round(d.ms),
          verdict: result.verdict,
        });
      }
    }
  }
  if (result.expect && !result.expect.includes(result.verdict)) {
    unexpected.push({
      index: p.index,
      kind: p.kind,
      expected: result.expect,
      got: result.verdict,
      plan: summarizePlan(p),
    });
  }
  if (opts.verbose) {
    process.stderr.write(
      `#${p.index} ${p.kind} ${JSON.stringify(summarizePlan(p))} -> ${result.verdict}${d ? ` (${d.ms === null ? 'not closed' : `${Math.round(d.ms)} ms`} / ${d.limitMs})` : ''} [${Math.round(performance.now() - startedAt)} ms]\n`,
    );
  }
}

function summarizePlan(p) {
  const s = {};
  for (const [k, v] of Object.entries(p)) {
    if (Buffer.isBuffer(v)) s[k] = `<${v.length} bytes>`;
    else if (typeof v === 'string' && v.length > 40) s[k] = `${v.slice(0, 20)}…(${v.length})`;
    else s[k] = v;
  }
  return s;
}

async function main() {
  const rng = prng(SEED);
  [certs, foreign] = await Promise.all([generateCertificateSet(), generateCertificateSet()]);
  port = await startServer(certs);
  const baseline = await request('stats', { fds: true });

  // The whole run, drawn up front: GOOD_EVERY hostile cases, then one good session, …
  const plan = [];
  for (let i = 0; i < CASES; i++) {
    plan.push(planCase(rng, i));
    if ((i + 1) % GOOD_EVERY === 0) plan.push({ kind: 'good' });
  }

  const deadlineTimer = setTimeout(() => stop.abort(new Error('deadline')), DEADLINE_MS - 12_000);
  deadlineTimer.unref();
  let next = 0;
  let tried = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < plan.length && !stop.signal.aborted) {
      const p = plan[next++];
      if (p.kind === 'good') {
        await runGood();
        continue;
      }
      tried++;
      const startedAt = performance.now();
      let result;
      try {
        // A hard cap per case, whatever happens.
        result = await Promise.race([
          RUN[p.kind](p),
          sleep(LIMITS.workTimeoutMs + 10_000, null, { ref: false }).then(() => ({
            verdict: 'HARNESS CAP',
          })),
        ]);
      } catch (err) {
        const code = err?.code ?? err?.message ?? String(err);
        harnessErrors[`${p.kind}: ${code}`] = (harnessErrors[`${p.kind}: ${code}`] ?? 0) + 1;
        result = { verdict: `connect failed (${code})` };
        err?.conn?.socket.destroy();
      }
      record(p, result, startedAt);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const runSeconds = (performance.now() - t0) / 1000;
  clearTimeout(deadlineTimer);
  const abortedBy = stop.signal.aborted
    ? String(stop.signal.reason?.message ?? stop.signal.reason)
    : null;

  // Settle, then count what is still open on both sides.
  const settleUntil = performance.now() + 5000;
  let snap = null;
  await sleep(1500);
  for (;;) {
    snap = crashes === 0 ? await request('stats', { fds: true }).catch(() => null) : null;
    const serverOpen = snap ? Math.max(snap.openConnections ?? 0, snap.inFlight) : 0;
    if ((live.size === 0 && serverOpen === 0) || performance.now() > settleUntil) break;
    await sleep(250);
  }
  const clientOpen = live.size;
  for (const s of live) s.destroy();
  const serverInFlight = snap?.inFlight ?? null;
  const serverOpenConnections = snap?.openConnections ?? null;
  const leakedSockets = clientOpen + Math.max(serverOpenConnections ?? 0, serverInFlight ?? 0);
  const exitCode = await closeServer();
  if (exitCode !== 0 && crashes === 0) crashes++;
  await closeSolverPool();

  // Report.
  out(
    `tlslp fuzz: seed ${SEED}, ${CASES} hostile cases (${tried} tried), one well-behaved session per ${GOOD_EVERY}, concurrency ${CONCURRENCY}`,
  );
  out(
    `server: mutual TLS, n_bits ${LIMITS.nBits}, handshake ${LIMITS.handshakeTimeoutMs} ms, steps ${LIMITS.otherTimeoutMs} ms, WORK ${LIMITS.workTimeoutMs} ms; deadline slack ${SLACK} ms`,
  );
  out(`ran ${runSeconds.toFixed(1)} s${abortedBy ? `; STOPPED EARLY: ${abortedBy}` : ''}`);
  out();
  out('kind               cases  measured  close ms p50/max (limit)   answers');
  for (const kind of KIND_NAMES) {
    const k = byKind[kind];
    if (!k) continue;
    const sorted = [...k.closeMs].sort((a, b) => a - b);
    const timing = sorted.length
      ? `${Math.round(sorted[Math.floor(sorted.length / 2)])}/${Math.round(sorted[sorted.length - 1])}`
      : '-';
    const verdicts = Object.entries(k.verdicts)
      .sort((a, b) => b[1] - a[1])
      .map(([v, n]) => `${n}× ${v}`)
      .join('; ');
    out(
      `${kind.padEnd(18)} ${String(k.count).padStart(5)}  ${String(k.measured).padStart(8)}  ${timing.padStart(20)}   ${verdicts}`,
    );
  }
  out();
  const rows = [
    ['hostile cases tried', String(tried)],
    [
      'server crashes',
      `${crashes}${crashInfo ? ` (exit code ${crashInfo.code}, signal ${crashInfo.signal}, at ${crashInfo.atMs} ms)` : ''}`,
    ],
    [
      'well-behaved sessions',
      `${goodResults.started} started, ${goodResults.completed} completed (${goodResults.done} DONE/OK, ${goodResults.failDrawn} server-drawn FAIL)${Object.keys(goodResults.failedByReason).length ? `, failed: ${JSON.stringify(goodResults.failedByReason)}` : ''}`,
    ],
    [
      'sockets open after settling',
      `${leakedSockets} (client sockets ${clientOpen}; server: ${serverInFlight ?? 'n/a'} sessions in flight, ${serverOpenConnections ?? 'n/a'} open connections` +
        `${snap?.socketFds != null && baseline.socketFds != null ? `, ${snap.socketFds - baseline.socketFds} socket fds more than at the start` : ''})`,
    ],
    [
      'deadline violations',
      `${violations.length} (closed later than limit + ${SLACK} ms, or not within limit + ${CAP_SLACK} ms)`,
    ],
    ['unexpected answers', String(unexpected.length)],
    [
      'harness connect errors',
      Object.keys(harnessErrors).length ? JSON.stringify(harnessErrors) : '0',
    ],
  ];
  if (snap) {
    const s = snap.stats;
    rows.push([
      'server stats',
      `${s.connections} connections, ${s.sessionsStarted} sessions (${s.sessionsDone} done, ${s.sessionsFailDrawn} FAIL drawn, ${s.sessionsRejected} rejected, ${s.sessionsTransport} transport), ${s.handshakeFailures} handshake failures, ${s.refused} refused, peak RSS ${(snap.peakRss / 1048576).toFixed(1)} MB`,
    ]);
    rows.push(['server failures by reason', JSON.stringify(s.failedByReason)]);
    rows.push(['server handshake failures', JSON.stringify(s.handshakeFailuresByReason)]);
  }
  const width = Math.max(...rows.map(([k]) => String(k).length));
  for (const [k, v] of rows) out(`  ${String(k).padEnd(width)}  ${v}`);
  for (const v of violations.slice(0, 15))
    out(
      `  violation: case #${v.index} ${v.kind}: ${v.ms === null ? 'not closed' : `closed after ${v.ms} ms`} (limit ${v.limitMs} ms) -> ${v.verdict}`,
    );
  if (violations.length > 15) out(`  … ${violations.length - 15} more violations`);
  for (const u of unexpected.slice(0, 15))
    out(
      `  unexpected: case #${u.index} ${u.kind}: got ${u.got}, expected ${u.expected.join(' | ')}  ${JSON.stringify(u.plan)}`,
    );
  if (unexpected.length > 15) out(`  … ${unexpected.length - 15} more unexpected answers`);
  out(
    `\ncommand: node bench/fuzz.mjs ${process.argv.slice(2).join(' ')}`.trimEnd() +
      `   (seed ${SEED}; node ${process.version}; ${((performance.now() - STARTED) / 1000).toFixed(1)} s in all)`,
  );

  const violationsByKind = {};
  for (const v of violations) violationsByKind[v.kind] = (violationsByKind[v.kind] ?? 0) + 1;
  const casesByKind = Object.fromEntries(
    KIND_NAMES.filter((k) => byKind[k]).map((k) => [k, byKind[k].count]),
  );
  const result = {
    cases: tried,
    crashes,
    goodSessions: goodResults.started,
    goodSessionsCompleted: goodResults.completed,
    leakedSockets,
    serverSocketFdsLeaked:
      snap?.socketFds != null && baseline.socketFds != null
        ? snap.socketFds - baseline.socketFds
        : null,
    deadlineViolations: violations.length,
    deadlineViolationsByKind: violationsByKind,
    unexpectedAnswers: unexpected.length,
    seed: SEED,
    casesByKind,
  };
  if (opts.json) out(JSON.stringify(result));
  const ok =
    crashes === 0 &&
    goodResults.completed === goodResults.started &&
    leakedSockets === 0 &&
    !abortedBy;
  const strictOk = violations.length === 0 && unexpected.length === 0;
  return ok && (!opts.strict || strictOk) ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`bench/fuzz.mjs: ${err?.stack ?? err}\n`);
}
process.exit(code);
