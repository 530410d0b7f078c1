/**
 * The demo: throwaway certificates, a mutual-TLS server on a free loopback port, and a
 * client session against it, with a readable transcript.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificateSet, writeCertificateSet } from './pki/generate.js';
import { runClient, type ClientEvent, type ClientResult } from './client/client.js';
import type { SessionReport } from './server/server.js';
import { TlslpServer } from './server/server.js';
import { resolveDemoOptions, type DemoTableOptions } from './options/demo.js';
import type { SolveOptions } from './solver/index.js';

/** Options of {@link runDemo}: those of its table (`nBits`, `bodyRequests`, `keepCertificates`), and the callbacks. */
export interface DemoOptions extends DemoTableOptions {
  /** Options of the client's built-in solver (kernel, threads, progress). */
  solverOptions?: Omit<SolveOptions, 'signal'>;
  /** Called for every client event (connection attempts, lines, WORK). */
  onEvent?: (event: ClientEvent) => void;
  /** Called once the server listens. */
  onListening?: (info: { host: string; port: number; certDir: string; nBits: number }) => void;
}

/** What the demo did. */
export interface DemoResult {
  /** The client's side of the session. */
  client: ClientResult;
  /** The server's report of the same session. */
  server: SessionReport;
  /** Where the throwaway certificates were (deleted unless `keepCertificates`). */
  certDir: string;
}

/**
 * Run one full session over mutual TLS on loopback with throwaway certificates. The server
 * draws random body commands but never the simulated FAIL, so a working setup always ends
 * in DONE/OK.
 * @throws ConfigError naming the option at fault, before anything is made.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const { nBits, bodyRequests, keepCertificates } = resolveDemoOptions(options);
  const certDir = await mkdtemp(join(tmpdir(), 'tlslp-demo-'));
  let server: TlslpServer | null = null;
  try {
    const certs = await generateCertificateSet();
    await writeCertificateSet(certDir, certs, { force: true });
    let reportDone!: (r: SessionReport) => void;
    const report = new Promise<SessionReport>((resolve) => (reportDone = resolve));
    server = new TlslpServer({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
      nBits,
      bodyRequests,
      simulateFailures: false,
      onSession: (r) => reportDone(r),
    });
    const address = await server.listen();
    options.onListening?.({ host: '127.0.0.1', port: address.port, certDir, nBits });
    const client = await runClient({
      host: '127.0.0.1',
      ports: [address.port],
      tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
      solverOptions: options.solverOptions,
      onEvent: options.onEvent,
    });
    // The server's side ends once it has read OK (bounded by its step timeout).
    return { client, server: await report, certDir };
  } finally {
    await server?.close();
    if (!keepCertificates) await rm(certDir, { recursive: true, force: true });
  }
}
