/**
 * The worker thread of `readCrlsOffThread`: reads and indexes a CRL file, and sends the
 * index back with its buffers transferred.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { CrlProblem, readCrlsForTransfer } from './crl.js';

const { text, cas } = workerData as { text: string | Uint8Array; cas: Uint8Array[] };
try {
  const pem = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const crls = readCrlsForTransfer(
    pem,
    cas.map((raw) => new X509Certificate(raw)),
  );
  parentPort?.postMessage(
    { crls },
    crls.flatMap((c) => [c.bytes.buffer as ArrayBuffer, c.slots.buffer as ArrayBuffer]),
  );
} catch (err) {
  // Anything else than a CrlProblem: no answer, and the caller reads the CRL itself.
  if (err instanceof CrlProblem) parentPort?.postMessage({ problem: err.message });
  else throw err;
}
