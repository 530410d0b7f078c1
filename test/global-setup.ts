/**
 * Once per test run: the certificate sets most test files share, generated here (real keys,
 * made at test time) instead of once per file. RSA key generation is the slow part of a
 * certificate set (two RSA 2048 keys, ~0.6 s of CPU); some 30 files and the bins they start
 * need one, so making them once takes that much CPU off every file. A test whose subject is
 * the generation itself still calls generateCertificateSet or `tlslp certs`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  generateCertificateSet,
  writeCertificateSet,
  type CertificateSet,
  type GenerateOptions,
} from '../src/pki/generate.js';

/** The shared sets, by name. */
export const SHARED_SETS = {
  /** The default set (`tlslp certs`): RSA CA and server, EC client, for localhost and 127.0.0.1. */
  main: {},
  /** Another CA's default set: a stranger's certificates. */
  foreign: {},
  /** Another CA, its server certificate EC P-256 (`--key-type ec`). */
  ec: { serverKeyType: 'ec' },
  /** Another CA, its server certificate for `server.example` only (a name mismatch). */
  named: { serverHosts: ['server.example'] },
} satisfies Record<string, GenerateOptions>;

/** A shared set's name. */
export type SharedSetName = keyof typeof SHARED_SETS;

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared sets: their PEM texts, and the folder each is written to (CERT_FILE_NAMES). */
    certSets: Record<SharedSetName, { set: CertificateSet; dir: string }>;
  }
}

type Sets = Record<SharedSetName, { set: CertificateSet; dir: string }>;

/**
 * Vitest runs a global setup for the root and for each project (unit, dist), all in its main
 * process: they share one generation (kept on globalThis, which the three module instances
 * share), and the folder goes with the last teardown.
 */
const shared = globalThis as typeof globalThis & {
  tlslpSharedCerts?: { sets: Promise<{ root: string; sets: Sets }>; users: number };
};

async function generate(): Promise<{ root: string; sets: Sets }> {
  const root = await mkdtemp(join(tmpdir(), 'tlslp-shared-certs-'));
  const names = Object.keys(SHARED_SETS) as SharedSetName[];
  const made = await Promise.all(
    names.map(async (name) => {
      const set = await generateCertificateSet(SHARED_SETS[name]);
      const dir = join(root, name);
      await writeCertificateSet(dir, set);
      return [name, { set, dir }] as const;
    }),
  );
  return { root, sets: Object.fromEntries(made) as Sets };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  shared.tlslpSharedCerts ??= { sets: generate(), users: 0 };
  const entry = shared.tlslpSharedCerts;
  entry.users++;
  const { root, sets } = await entry.sets;
  project.provide('certSets', sets);
  return async () => {
    if (--entry.users > 0) return;
    shared.tlslpSharedCerts = undefined;
    await rm(root, { recursive: true, force: true });
  };
}
