/**
 * `tlslp/tls`: the TLS material (PEM files, the loopback rule of insecure mode, the server's
 * cross-checks) and the CRL index revocation is judged by.
 * @module
 */
export * from './material.js';
