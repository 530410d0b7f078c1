/**
 * The tuning of adaptive difficulty (`--n_bits auto`) and of the per-identity difficulty that
 * comes with it: types only, here so that the server's option table and the server's
 * AdaptiveDifficulty both read them (server/adaptive.ts re-exports them).
 * @module
 */

/**
 * Options of `AdaptiveDifficulty`, and of the per-identity difficulty that comes with it
 * when clients have certificates ({@link IdentityLoadOptions}).
 */
export interface AdaptiveOptions extends IdentityLoadOptions {
  /** Lowest n_bits asked, under no load (`--min-bits`). */
  minBits: number;
  /** Highest n_bits asked, however high the load (`--max-bits`). */
  maxBits: number;
  /** Weighted sessions in flight that count as full load (default 64). */
  targetInFlight?: number;
  /** New sessions per second that count as full load (default 50). */
  targetArrivalsPerSecond?: number;
  /** Most bits added in one tick (default 2). */
  maxStepUp?: number;
  /** Calm ticks in a row before one bit is removed (default 5). */
  calmTicks?: number;
  /** Most sessions one IP adds to the in-flight figure (default 4). */
  perIpWeight?: number;
  /** Weight of the newest tick in the smoothed arrival rate, 0..1 (default 0.5). */
  smoothing?: number;
  /** Most arrivals a second one source adds to the rate once it has solved WORK (default 10). */
  perSourceArrivalsPerSecond?: number;
  /** Most arrivals a second a source adds before it has solved WORK (default 1). */
  unprovenArrivalsPerSecond?: number;
  /** Ticks a solved WORK keeps a source proven (default 60). */
  provenTicks?: number;
}

/** Options of the per-identity difficulty, part of {@link AdaptiveOptions}. */
export interface IdentityLoadOptions {
  /** Sessions at once one identity may have at the global n_bits, at least (default 8). */
  identityInFlight?: number;
  /** New sessions a second one identity may open at the global n_bits, at least (default 5). */
  identityArrivalsPerSecond?: number;
  /** Most identities tracked (default 4096). */
  maxIdentities?: number;
  /** How many of the busiest identities are reported each tick, 0..10 (default 10). */
  topIdentities?: number;
}
