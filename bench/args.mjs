// @ts-check
// Flag parsing shared by the harnesses: node:util parseArgs, --help, one clear line and
// exit 2 on a bad flag.
import { parseArgs } from 'node:util';

/**
 * Parse process.argv for `script` with parseArgs `options` (a `help` flag is added).
 * Returns the values and an `int(name, min)` reader for integer flags.
 * @param {string} script
 * @param {string} usage
 * @param {import('node:util').ParseArgsConfig['options']} options
 * @returns {{ opts: Record<string, any>, int: (name: string, min: number) => number }}
 */
export function benchArgs(script, usage, options) {
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (err) {
    process.stderr.write(`${script}: ${err.message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const int = (name, min) => {
    const value = values[name];
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`${script}: --${name} must be an integer >= ${min}, not ${value}\n`);
      process.exit(2);
    }
    return n;
  };
  return { opts: values, int };
}
