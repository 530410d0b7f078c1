import { describe, expect, it } from 'vitest';
import { AdaptiveDifficulty } from '../src/server/adaptive.js';
import { ConfigError } from '../src/errors/index.js';

function controller() {
  return new AdaptiveDifficulty({
    minBits: 10,
    maxBits: 20,
    targetInFlight: 10,
    targetArrivalsPerSecond: 10,
    calmTicks: 3,
    maxStepUp: 2,
  });
}

describe('adaptive difficulty', () => {
  it('stays at the minimum when calm', () => {
    const a = controller();
    for (let i = 0; i < 10; i++) expect(a.tick(2, 1)).toBeNull();
    expect(a.current).toBe(10);
  });

  it('rises with sessions in flight, at most maxStepUp per tick, up to maxBits', () => {
    const a = controller();
    const c = a.tick(80, 1); // load 8 → +3 wanted, +2 allowed
    expect(c).toMatchObject({ from: 10, to: 12 });
    expect(a.tick(80, 1)).toMatchObject({ from: 12, to: 13 });
    expect(a.tick(80, 1)).toBeNull();
    for (let i = 0; i < 10; i++) a.tick(1e9, 1);
    expect(a.current).toBe(20);
  });

  it('rises with the arrival rate even when sessions are short', () => {
    const a = controller();
    for (let i = 0; i < 200; i++) a.arrival();
    const c = a.tick(0, 1);
    expect(c?.to).toBeGreaterThan(10);
  });

  it('falls one bit at a time, only after a calm spell', () => {
    const a = controller();
    a.tick(80, 1);
    a.tick(80, 1);
    expect(a.current).toBe(13);
    expect(a.tick(0, 1)).toBeNull();
    expect(a.tick(0, 1)).toBeNull();
    expect(a.tick(0, 1)).toMatchObject({ from: 13, to: 12 });
    // A burst in between resets the calm count.
    a.tick(0, 1);
    a.tick(80, 1);
    a.tick(0, 1);
    a.tick(0, 1);
    expect(a.current).toBeGreaterThanOrEqual(12);
  });

  it('refuses bad bounds', () => {
    expect(() => new AdaptiveDifficulty({ minBits: 10, maxBits: 5 })).toThrow(ConfigError);
    expect(() => new AdaptiveDifficulty({ minBits: 0, maxBits: 65 })).toThrow(ConfigError);
  });
});
