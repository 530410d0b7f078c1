/** What a client sees first of a server that may refuse it: for tests of session limits. */
import type { CertificateSet } from '../src/pki/generate.js';
import { rawClient } from './helpers.js';

/**
 * The first line a mutual-TLS client gets on `port`, or `closed` when the connection ends
 * (closed, reset, or its handshake failed) before any line. One left hanging (no line in 5 s)
 * rejects.
 */
export async function firstLine(port: number, certs: CertificateSet): Promise<string> {
  let conn;
  try {
    conn = await rawClient(port, certs);
  } catch {
    return 'closed';
  }
  conn.socket.on('error', () => {});
  try {
    return await conn.ch.readLine(5000);
  } catch (err) {
    if ((err as { code?: string }).code === 'TLSLP_ERR_TIMEOUT') throw err;
    return 'closed';
  } finally {
    conn.socket.destroy();
  }
}
