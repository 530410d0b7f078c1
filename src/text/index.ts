/**
 * Text helpers: addresses (`host:port`, CIDRs), escaping control characters, masking a URL's
 * password. Internal to the package.
 * @module
 */
export * from './address.js';
export * from './escape.js';
export * from './secret.js';
