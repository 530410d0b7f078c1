/** SIMD128 build: four consecutive nonces per i32x4 lane group. */
import { scanLanes } from './core';

export { input } from './core';

/** See scanLanes in core.ts. */
export function scan(hi: u32, lo: u32, count: u32, mask: u32): i32 {
  return scanLanes<v128>(hi, lo, count, mask);
}
