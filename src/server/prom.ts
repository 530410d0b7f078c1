/**
 * prom-client, loaded on first use: a server without a metrics port never pays for it (about
 * 60 ms of start-up, and `tlslp/server` stays light for embedders).
 * @module
 */
import { createRequire } from 'node:module';

type PromClient = typeof import('prom-client');

let loaded: PromClient | undefined;

/** The prom-client module (CommonJS, so it can be loaded synchronously when first needed). */
export function promClient(): PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as PromClient;
  return loaded;
}
