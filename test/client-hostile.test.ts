/**
 * A hostile server's bytes never reach the user's terminal raw: the transcript, the error
 * line, the --json summary and the log file escape C0, DEL, C1 and bidi controls.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { checksum } from '../src/protocol/hash.js';
import {
  clientCertFlags,
  runClientBin,
  scriptedServer,
  testCerts,
  type BinRun,
} from './helpers.js';

// What a terminal would act on: C0 but \n, DEL, C1, bidi embeddings/overrides/isolates.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

// OSC window title, CSI clear screen, an 8-bit CSI, a right-to-left override.
const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u009b2J\u202eexe.txt';

let certs: CertificateSet;
let dir: string;
let certFlags: string[];

beforeAll(async () => {
  certs = await testCerts();
  dir = await mkdtemp(join(tmpdir(), 'tlslp-hostile-'));
  certFlags = await clientCertFlags(certs, join(dir, 'certs'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** HELLO, an easy WORK, one body request whose argument carries a bidi override, then FAIL. */
function hostileServer(): Promise<{ port: number; close(): void }> {
  return scriptedServer(certs, (socket) => {
    const steps = [
      'HELLO',
      'WORK abc 1',
      // The argument charset allows U+202E (it is not a control character in \p{Cc}).
      `EMAIL1 x\u202Ey`,
      `FAIL ${EVIL}`,
    ];
    let i = 0;
    const next = (): void => {
      const line = steps[i++];
      if (line === undefined) return;
      socket.write(`${line}\n`);
      if (line.startsWith('FAIL')) socket.end();
    };
    socket.setEncoding('utf8');
    socket.on('data', next);
    next();
  });
}

function client(args: string[]): Promise<BinRun> {
  return runClientBin(args, dir);
}

describe('a hostile server', () => {
  it('cannot write control sequences to the terminal or the log', async () => {
    const server = await hostileServer();
    try {
      const r = await client([
        '--host',
        '127.0.0.1',
        '--ports',
        String(server.port),
        ...certFlags,
        '--log-level',
        'DEBUG',
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      // The transcript shows what was sent, escaped.
      expect(r.stdout).toContain('S: EMAIL1 x\\u202ey');
      expect(r.stdout).toContain(`C: ${checksum('abc', 'x\u202Ey')}`);
      expect(r.stderr).toContain(
        'tlslp-client: error: server sent FAIL: \\x1b]0;pwned\\x07\\x1b[2J\\x9b2J\\u202eexe.txt',
      );
      const log = await readFile(join(dir, 'tlslp', 'logs', 'client.log'), 'utf8');
      expect(log).toContain('pwned');
      expect(log).not.toMatch(RAW_CONTROL);
    } finally {
      server.close();
    }
  });

  it('cannot either through --json, which still parses back to the exact reason', async () => {
    const server = await hostileServer();
    try {
      const r = await client([
        '--host',
        '127.0.0.1',
        '--ports',
        String(server.port),
        ...certFlags,
        '--json',
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      const summary = JSON.parse(r.stdout) as { serverFail: string };
      expect(summary.serverFail).toBe(EVIL);
    } finally {
      server.close();
    }
  });
});
