/**
 * tlslp: the TLS Line Protocol. A mutual-TLS server and client that speak a small line
 * protocol (HELLO → WORK proof of work → info requests → DONE), and a fast solver.
 *
 * @example Run a server and a client in one process
 * ```ts
 * import { TlslpServer, closeSolverPool, generateCertificateSet, runClient } from 'tlslp';
 *
 * const certs = await generateCertificateSet();
 * const server = new TlslpServer({
 *   host: '127.0.0.1', port: 0, nBits: 16,
 *   simulateFailures: false, // no drawn FAIL: the session ends in DONE/OK
 *   tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
 * });
 * const { port } = await server.listen();
 * try {
 *   const result = await runClient({
 *     host: '127.0.0.1', ports: [port],
 *     tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
 *   });
 *   console.log(result.answered);
 * } finally {
 *   await server.close();
 *   await closeSolverPool();
 * }
 * ```
 * @packageDocumentation
 */
export * from './errors/index.js';
export { DEFAULTS } from './options/defaults.js';
export { VERSION } from './version.js';

export * from './protocol/index.js';

export {
  SocketLineChannel,
  describeSocketError,
  type ChannelOptions,
  type LineChannel,
} from './transport/channel.js';
export {
  assertInsecureAllowed,
  isLoopbackHost,
  readPem,
  readTlsFiles,
  type PemFile,
  type ServerTlsLabels,
  type TlsMaterial,
} from './tls/material.js';
export * from './server/index.js';
export * from './client/index.js';

export * from './solver/index.js';

export * from './pki/index.js';
export * from './logging/index.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo.js';
