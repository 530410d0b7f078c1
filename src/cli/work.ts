#!/usr/bin/env node
/**
 * `tlslp-work <token> <n_bits>`: solve one WORK challenge and print `RESULT:<suffix>` and
 * `Time: <seconds> seconds`, the output of the original `work_challenge` solver binary,
 * so it is a drop-in replacement for it. The installed `tlslp-work` is this file; bin/tlslp,
 * the sh launcher beside it, runs the native solver program (native/src/solve_main.c) instead
 * for the plain `<token> <n_bits>` form, which then pays no Node start-up.
 * @module
 */
import { Command, InvalidArgumentError } from 'commander';
import { SolverError } from '../errors/index.js';
import { integer } from '../options/kinds.js';
import { WORK_OPTIONS, resolveWorkOptions } from '../options/work.js';
import { closeSolverPool, solveWork } from '../solver/index.js';
import { commanderOutput, EXIT, runMain } from './common.js';
import { isEntryPoint } from './entry.js';
import { VERSION, addTableOptions, namingFlags, parserFor, tableValues } from './options.js';

function tokenArgument(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(value)) {
    throw new InvalidArgumentError('token must be 1 to 128 characters of [A-Za-z0-9_-].');
  }
  return value;
}

/**
 * The `tlslp-work` command definition: its flags are the work table's. `name` is how it was
 * called (`tlslp work` through the umbrella), for its usage line and messages.
 */
export function workCommand(name = 'tlslp-work'): Command {
  const command = new Command(name)
    .description(
      'Solve a WORK challenge: find a suffix so that SHA-256(token + suffix) ends in n_bits zero bits.',
    )
    .version(VERSION)
    .argument('<token>', 'the WORK token (1..128 characters of [A-Za-z0-9_-])', tokenArgument)
    .argument(
      '<n_bits>',
      'required trailing zero bits, 0..64',
      parserFor('n_bits', integer(0, 64)),
    );
  return addTableOptions(command, WORK_OPTIONS)
    .addHelpText(
      'after',
      `\nExample:\n  ${name} gkcjcibIFynKssuJnJpSrgvawiVjLjEbdFuYQzuWROTeTaSmqFCAzuwkwLCRgIIq 28\n` +
        '\nGiven just <token> <n_bits>, node_modules/tlslp/bin/tlslp (an sh launcher, the file to hand\n' +
        "a client as the original's work_challenge) runs the native solver program (tlslp-solve)\n" +
        'without starting Node, where one is built or shipped; any flag, or TLSLP_NO_NATIVE /\n' +
        'TLSLP_NATIVE_VARIANT / TLSLP_NATIVE_SCALAR, runs this Node CLI. Both print the same\n' +
        'suffix: the lowest nonce.',
    )
    .exitOverride()
    .configureOutput(commanderOutput(name));
}

const INTEGER = /^\d+$/;

/**
 * Put a `--` before the two operands wherever that is what was meant, so a token that starts
 * with `-` (`-V`, `-h`, `--`, `-k09…`: all valid tokens) is never read as a flag. The
 * original's `work_challenge <token> <n_bits>` takes any token, and clients call us the same
 * way. The rule: when the last argument is an integer and everything before the two last
 * arguments is a run of this command's own flags, the two last are token and n_bits, whatever
 * they look like. `--help` / `--version` act only when nothing says otherwise (given alone).
 */
export function operandsLast(argv: readonly string[], command: Command): string[] {
  const n = argv.length;
  if (n < 2 || !INTEGER.test(argv[n - 1] as string)) return [...argv];
  // `-- <token> <n_bits>` as the caller wrote it: commander ends flags at the first `--`.
  if (argv[n - 3] === '--' && onlyFlags(argv.slice(0, n - 3), command)) return [...argv];
  if (!onlyFlags(argv.slice(0, n - 2), command)) return [...argv];
  return [...argv.slice(0, n - 2), '--', ...argv.slice(n - 2)];
}

/** True when `args` is a sequence of `command`'s flags, each with its value if it takes one. */
function onlyFlags(args: readonly string[], command: Command): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const option = command.options.find((o) => o.long === name || o.short === name);
    // Help and version end the run: with more arguments after them, they are operands.
    if (!option || name === '-V' || name === '--version') return false;
    if ((option.required || option.optional) && !arg.includes('=')) i++;
    if (i >= args.length) return false;
  }
  return true;
}

/** Run `tlslp-work` with `argv` (without the program name), called `name`. Resolves with the exit code. */
export async function workMain(argv: string[], name = 'tlslp-work'): Promise<number> {
  return namingFlags(WORK_OPTIONS, () => work(argv, name));
}

async function work(argv: string[], name: string): Promise<number> {
  const definition = workCommand(name);
  const command = definition.parse(operandsLast(argv, definition), { from: 'user' });
  const [token, nBits] = command.processedArgs as [string, number];
  const flags = resolveWorkOptions(tableValues(command, WORK_OPTIONS));

  const controller = new AbortController();
  let interrupts = 0;
  // First Ctrl-C cancels the solve cleanly; a second one exits at once.
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await solveWork(token, nBits, {
      kernel: flags.kernel,
      threads: flags.threads,
      signal: controller.signal,
    });
    if (result.fallbackReason && !flags.quiet) {
      process.stderr.write(`tlslp-work: note: ${result.fallbackReason}\n`);
    }
    if (flags.json) process.stdout.write(`${JSON.stringify({ token, nBits, ...result })}\n`);
    else
      process.stdout.write(`RESULT:${result.suffix}\nTime: ${result.seconds.toFixed(6)} seconds\n`);
    if (flags.verbose) {
      process.stderr.write(
        `tlslp-work: ${result.kernel} (${result.kernelDetail}), ${result.threads} thread(s), ` +
          `${result.hashes} hashes in ${result.seconds.toFixed(3)} s; kernel ${(result.kernelHashesPerSecond / 1e6).toFixed(1)} M hashes/s per thread\n`,
      );
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof SolverError && err.code === 'TLSLP_ERR_SOLVE_ABORTED') {
      process.stderr.write('tlslp-work: interrupted\n');
      return EXIT.interrupted;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await closeSolverPool();
  }
}

if (isEntryPoint(import.meta.url))
  await runMain('tlslp-work', () => workMain(process.argv.slice(2)));
