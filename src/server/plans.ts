/**
 * What each session asks of its client: the token, n_bits, body commands and deadlines.
 * Tutorial mode lives here: a fixed token, argument and command order, one session, and log
 * lines that are the same on every run.
 * @module
 */
import { BODY_COMMANDS } from '../protocol/messages.js';
import { drawBodyCommand, randomToken } from '../protocol/random.js';
import type { SessionPlan } from './session.js';

/** The original's fixed token: tutorial mode only, or `--token`. */
export const TUTORIAL_TOKEN = 'gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq';
/** The original's fixed body argument: tutorial mode only, or `--random-string`. */
export const TUTORIAL_ARG = 'LGTk';
/** Length of the fresh random token of each connection. */
export const RANDOM_TOKEN_LENGTH = 64;
/** Length of the fresh random argument of each body request. */
export const RANDOM_ARG_LENGTH = 8;

/** What the planner needs of the server's options. */
export interface PlannerOptions {
  tutorial?: boolean;
  token?: string;
  randomString?: string;
  /** The fixed n_bits (tutorial mode ignores the adaptive one). */
  nBits: number;
  bodyRequests: number;
  simulateFailures?: boolean;
  workTimeoutMs: number;
  otherTimeoutMs: number;
}

/** Plans sessions, and says how the server runs them. */
export interface SessionPlanner {
  /** The plan of the next session, whose n_bits is `nBits` unless the mode fixes it. */
  plan(nBits: number): SessionPlan;
  /** Serve one session, then stop. */
  readonly singleSession: boolean;
  /**
   * The log must be the same on every run (golden logs): no session numbers, peers, TLS
   * versions or durations.
   */
  readonly reproducibleLog: boolean;
  /** Words the listening line adds, e.g. `, tutorial mode`. */
  readonly label: string;
}

/** The planner for `options`: tutorial mode or normal mode. */
export function createPlanner(o: PlannerOptions): SessionPlanner {
  const deadlines = { workTimeoutMs: o.workTimeoutMs, otherTimeoutMs: o.otherTimeoutMs };
  if (o.tutorial) {
    return {
      plan: () => ({
        token: o.token ?? TUTORIAL_TOKEN,
        nBits: o.nBits,
        bodyRequests: BODY_COMMANDS.length,
        nextCommand: (i) => BODY_COMMANDS[i] as (typeof BODY_COMMANDS)[number],
        nextArg: () => o.randomString ?? TUTORIAL_ARG,
        ...deadlines,
      }),
      singleSession: true,
      reproducibleLog: true,
      label: ', tutorial mode',
    };
  }
  return {
    plan: (nBits) => ({
      token: o.token ?? randomToken(RANDOM_TOKEN_LENGTH),
      nBits,
      bodyRequests: o.bodyRequests,
      nextCommand: () => drawBodyCommand(o.simulateFailures !== false),
      nextArg: () => o.randomString ?? randomToken(RANDOM_ARG_LENGTH),
      ...deadlines,
    }),
    singleSession: false,
    reproducibleLog: false,
    label: '',
  };
}
