/**
 * What every bin shares: one clear line and a non-zero exit for any failure, never a stack
 * trace for a user mistake.
 * @module
 */
import { CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, ERROR_CATALOG, TlslpError, renderMessage } from '../errors.js';
import { escapeControl } from '../text/escape.js';

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

/**
 * Format any thrown value as the one line a user sees, control characters escaped: a message
 * may quote a peer (a FAIL reason, an unexpected line), and it goes to a terminal.
 */
export function describeError(err: unknown): string {
  return escapeControl(rawDescription(err));
}

/**
 * The flags of the library options that error messages name (`{option}`-like parameters);
 * the message is rendered again with the flag in the option's place. `tls.cert` and
 * `tls.key` appear only in the client's TLS errors, hence the client's flags.
 */
const OPTION_FLAGS: Readonly<Record<string, string>> = {
  'tls.ca': '--ca-cert',
  'tls.cert': '--client-cert',
  'tls.key': '--private-key',
  force: '--force',
  insecure: '--insecure',
  partial: '--profile-partial',
  port: '--port',
  profile: '--profile',
  workBinary: '--work-binary',
};

function rawDescription(err: unknown): string {
  if (err instanceof TlslpError) return withFlags(err);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function withFlags(err: TlslpError): string {
  let named = false;
  const params = Object.fromEntries(
    Object.entries(err.params).map(([name, value]) => {
      const isOption = name === 'option' || name.endsWith('Option');
      if (!isOption || typeof value !== 'string' || !Object.hasOwn(OPTION_FLAGS, value))
        return [name, value];
      named = true;
      return [name, OPTION_FLAGS[value] as string];
    }),
  );
  if (!named) return err.message;
  // Text around the rendered part (a context from withContext, a hint) stays as it is.
  const rendered = renderMessage(ERROR_CATALOG[err.code].message, err.params);
  const at = err.message.lastIndexOf(rendered);
  if (at < 0) return err.message;
  const again = renderMessage(ERROR_CATALOG[err.code].message, params);
  return err.message.slice(0, at) + again + err.message.slice(at + rendered.length);
}

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
      process.stderr.write(s.startsWith('error:') ? `${prog}: ${s}` : s);
    },
  };
}

/** Commander argument parser for a non-negative integer within [min, max]. */
export function intInRange(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer.`);
    const n = Number(value);
    if (n < min || n > max)
      throw new InvalidArgumentError(`${name} must be between ${min} and ${max}.`);
    return n;
  };
}

/** Commander argument parser for a positive number of seconds (or zero, where 0 means "off"). */
export function seconds(name: string, allowZero = false): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero))
      throw new InvalidArgumentError(
        `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds.`,
      );
    return n;
  };
}
