/** Scalar build, for runtimes without SIMD128: one nonce per iteration. */
import { scanLanes } from './core';

export { input } from './core';

/** See scanLanes in core.ts. */
export function scan(hi: u32, lo: u32, count: u32, mask: u32): i32 {
  return scanLanes<u32>(hi, lo, count, mask);
}
