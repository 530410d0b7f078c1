/**
 * `--config FILE`: options kept in a JSON or TOML file, applied to a parsed commander
 * command under the flags given on the command line (a flag always wins). Keys are the long
 * flag names without dashes (`max-connections`, `n_bits`) or their camelCase form
 * (`maxConnections`); each value goes through the flag's own parser, so a file is checked
 * exactly as the command line is.
 * @module
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Command, Option } from 'commander';
import { ConfigError } from '../errors.js';

/** Parse `text` as TOML or JSON: by the file's extension, else by its first character. */
function parseConfig(path: string, text: string): Record<string, unknown> {
  const ext = extname(path).toLowerCase();
  const json = ext === '.json' || (ext !== '.toml' && text.trimStart().startsWith('{'));
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(
      'TLSLP_ERR_CONFIG_FILE',
      { source: `--config ${path}`, problem: `not valid ${json ? 'JSON' : 'TOML'}: ${why}` },
      { cause: err },
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
      source: `--config ${path}`,
      problem: 'must hold a table of options',
    });
  return data as Record<string, unknown>;
}

function findOption(command: Command, key: string): Option | undefined {
  return command.options.find(
    (o) => o.long === `--${key}` || o.attributeName() === key || o.name() === key,
  );
}

/**
 * Read `path` and set every option it names on `command` whose value did not come from the
 * command line. Returns the option names it set.
 * @throws ConfigError naming the file and the key: unreadable file, bad syntax, unknown
 * option, or a value the flag refuses.
 */
export function applyConfigFile(command: Command, path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      'TLSLP_ERR_CONFIG_FILE',
      {
        source: `--config ${path}`,
        problem: `${code === 'ENOENT' ? 'no such file' : 'not readable'}`,
      },
      { cause: err },
    );
  }
  const set: string[] = [];
  for (const [key, value] of Object.entries(parseConfig(path, text))) {
    const option = findOption(command, key);
    if (!option || option.long === '--config' || option.long === '--help')
      throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
        source: `--config ${path}`,
        problem: `unknown option "${key}"`,
      });
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === 'cli') continue;
    let parsed: unknown;
    if (option.isBoolean()) {
      if (typeof value !== 'boolean')
        throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
          source: `--config ${path}`,
          problem: `"${key}" must be true or false`,
        });
      parsed = value;
    } else {
      if (typeof value !== 'string' && typeof value !== 'number')
        throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
          source: `--config ${path}`,
          problem: `"${key}" must be a string or a number`,
        });
      const raw = String(value);
      try {
        parsed = option.parseArg ? option.parseArg(raw, undefined) : raw;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new ConfigError(
          'TLSLP_ERR_CONFIG_FILE',
          { source: `--config ${path}`, problem: `"${key}": ${why}` },
          { cause: err },
        );
      }
      if (option.argChoices && !option.argChoices.includes(raw))
        throw new ConfigError('TLSLP_ERR_CONFIG_FILE', {
          source: `--config ${path}`,
          problem: `"${key}" must be one of ${option.argChoices.join(', ')}`,
        });
    }
    command.setOptionValueWithSource(name, parsed, 'config');
    set.push(name);
  }
  return set;
}
