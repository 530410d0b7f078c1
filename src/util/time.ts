/**
 * Spans of time several layers count in.
 * @module
 */

/** One day, in ms. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** One minute, in ms. */
export const MINUTE_MS = 60 * 1000;

/** One second, in ms. */
export const SECOND_MS = 1000;

/** One hour, in ms. */
export const HOUR_MS = 60 * 60 * 1000;

/** The longest delay setTimeout takes (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
