/**
 * What every bin shares: one clear line and a non-zero exit for any failure, never a stack
 * trace for a user mistake.
 * @module
 */
import { maskUrlPassword } from '../text/secret.js';
import { CommanderError } from 'commander';
import { ConfigError } from '../errors/index.js';
import { describeError } from '../errors/describe.js';

/** Exit codes of the bins. */
export const EXIT = {
  ok: 0,
  /** The session or job failed (FAIL from the server, network, protocol). */
  failure: 1,
  /** Bad flags or configuration. */
  usage: 2,
  /** Interrupted by a signal. */
  interrupted: 130,
} as const;

export { describeError };

/** Exit code for a thrown value. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError) return EXIT.usage;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  return EXIT.failure;
}

/**
 * Run a bin's `main`, print one `<prog>: error: …` line on failure and set the exit code.
 * Commander prints its own usage errors, so those are not printed twice.
 */
export async function runMain(prog: string, main: () => Promise<number>): Promise<void> {
  // A reader that goes away (`| head`) is not a failure of ours: stop quietly, as cat does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    process.stderr.write(`${prog}: error: cannot write the output: ${err.message}\n`);
    process.exit(EXIT.failure);
  });
  try {
    process.exitCode = await main();
  } catch (err) {
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`${prog}: error: ${describeError(err)}\n`);
      if (process.env.TLSLP_DEBUG && err instanceof Error && err.stack) {
        process.stderr.write(`${err.stack}\n`);
      }
    }
    process.exitCode = exitCodeFor(err);
  }
}

/**
 * Commander's output settings for `prog`: its usage errors (`error: unknown option …`) get the
 * same `<prog>: ` prefix as every other error line.
 */
export function commanderOutput(prog: string): { writeErr: (s: string) => void } {
  return {
    writeErr: (s) => {
      // Commander quotes a bad argument as given: a store URL's password must not show.
      const shown = maskUrlPassword(s);
      process.stderr.write(shown.startsWith('error:') ? `${prog}: ${shown}` : shown);
    },
  };
}
