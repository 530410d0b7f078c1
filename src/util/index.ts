/**
 * What several layers share that belongs to none: where a worker thread's script is, in
 * `dist/` or beside the TypeScript sources.
 * @module
 */
export * from './worker-file.js';
export * from './time.js';
