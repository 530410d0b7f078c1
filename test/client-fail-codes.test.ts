/**
 * docs/errors.md "The FAILs a client sees", held to what runClient really rejects with: each
 * row is driven through a server (the real TlslpServer where a client can make it send that
 * FAIL, a scripted one for the FAILs a correct client never causes) and the code compared.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSet } from '../src/pki/generate.js';
import { runClient } from '../src/client/client.js';
import { ServerFailError, TlslpError } from '../src/errors/index.js';
import { randomToken } from '../src/protocol/random.js';
import { FAIL_REASONS } from '../src/server/session.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import { clientTls, heldAtWork, scriptedServer, testCerts, useServers } from './helpers.js';

interface Row {
  reason: string;
  when: string;
  code: string;
}

const doc = readFileSync('docs/errors.md', 'utf8');
const section = doc.slice(doc.indexOf('## The FAILs a client sees'), doc.indexOf('## Metric'));
const rows: Row[] = [
  ...section.matchAll(
    /^\| `FAIL (.+?)`(?: \(simulated\))? +\| (.+?) +\| `?(TLSLP_ERR_\w+|none)`?.*? +\|$/gm,
  ),
].map((m) => ({ reason: m[1] ?? '', when: m[2] ?? '', code: m[3] ?? '' }));
const RANDOM = '<random>';

let certs: CertificateSet;
beforeAll(async () => {
  certs = await testCerts();
}, 60_000);
const { server } = useServers(() => certs, { nBits: 1 });

/** What runClient rejects with against `port`, or 'none' when the session ends in DONE/OK. */
async function outcome(port: number): Promise<TlslpError | 'none'> {
  const err: unknown = await runClient({
    host: '127.0.0.1',
    ports: [port],
    tls: clientTls(certs),
    otherTimeoutMs: 5000,
    solverOptions: { threads: 1 },
  }).then(
    () => 'none' as const,
    (e: unknown) => e,
  );
  if (err !== 'none') expect(err).toBeInstanceOf(TlslpError);
  return err as TlslpError | 'none';
}

async function rejection(port: number): Promise<TlslpError> {
  const err = await outcome(port);
  if (err === 'none') throw new Error('the session ended in DONE/OK');
  return err;
}

/** Lines a scripted server sends, and a reply read after each, up to the row's step. */
const SCRIPTS: Record<string, string[]> = {
  'before HELLO': [],
  'after HELLO': ['HELLO'],
  'any step': ['HELLO'],
  'after WORK': ['HELLO', `WORK ${randomToken(64)} 1`],
  'in the body': ['HELLO', `WORK ${randomToken(64)} 1`, 'FULL_NAME abc'],
  'after DONE': ['HELLO', `WORK ${randomToken(64)} 1`, 'DONE'],
};

/** A server that plays `script` (each line answered), then sends `FAIL reason` and closes. */
async function scripted(script: string[], reason: string): Promise<TlslpError | 'none'> {
  const s = await scriptedServer(certs, (socket: TLSSocket) => {
    const ch = new SocketLineChannel(socket);
    void (async () => {
      for (const line of script) {
        ch.writeLine(line);
        await ch.readLine(5000);
      }
      ch.writeLine(`FAIL ${reason}`);
      ch.end();
    })().catch(() => socket.destroy());
  });
  try {
    return await outcome(s.port);
  } finally {
    s.close();
  }
}

describe('docs/errors.md: the FAILs a client sees', () => {
  it('has a row for every FAIL the server sends, and the simulated one', () => {
    expect(rows.map((r) => r.reason).sort()).toEqual(
      [...Object.values(FAIL_REASONS), RANDOM].sort(),
    );
    for (const r of rows) expect(Object.keys(SCRIPTS), r.when).toContain(r.when);
  });

  it.each(rows)(
    'FAIL $reason ($when): the client rejects with $code',
    async (row) => {
      let err: TlslpError | 'none';
      if (row.reason === FAIL_REASONS.notAuthorized) {
        // The real gate: a certificate on no allow-list.
        const s = await server({ allowCn: ['someone-else'] });
        err = await rejection(s.port);
      } else if (row.reason === FAIL_REASONS.maxPerIdentity) {
        // The real gate: the same certificate already holds the one session it may have.
        const s = await server({ maxPerIdentity: 1 });
        const held: TLSSocket[] = [];
        try {
          await heldAtWork(s.port, certs, (socket) => held.push(socket));
          err = await rejection(s.port);
        } finally {
          for (const socket of held) socket.destroy();
        }
      } else if (row.reason === RANDOM) {
        // The real server's draw: about 9 sessions in 10 end in it.
        const s = await server();
        let e: TlslpError | null = null;
        for (let i = 0; i < 40 && !(e instanceof ServerFailError); i++)
          e = await rejection(s.port).catch(() => null);
        err = e as TlslpError;
        expect(err).toBeInstanceOf(ServerFailError);
        expect((err as ServerFailError).reason).toMatch(/^[A-Za-z0-9_-]+$/);
      } else {
        err = await scripted(SCRIPTS[row.when] ?? [], row.reason);
        if (err instanceof ServerFailError) expect(err.reason).toBe(row.reason);
      }
      if (err === 'none') {
        expect(row.code).toBe('none');
        return;
      }
      expect(err.code).toBe(row.code);
      if (err instanceof ServerFailError) expect(err.simulated).toBe(row.reason === RANDOM);
      else expect(err.message).toContain(`FAIL ${row.reason}`);
    },
    20_000,
  );
});
