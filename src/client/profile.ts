/**
 * The client's answers to the eight body commands.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/index.js';
import { BODY_COMMANDS, type BodyCommand } from '../protocol/messages.js';

/** One value per body command. Values may hold spaces and any UTF-8 except `\n`. */
export type Profile = Record<BodyCommand, string>;

/** Neutral sample data: the built-in answers. */
export const DEFAULT_PROFILE: Readonly<Profile> = Object.freeze({
  FULL_NAME: 'Jane Doe',
  EMAIL1: 'jane@example.com',
  EMAIL2: 'jane.doe@example.org',
  SOCIAL: '@janedoe@social.example',
  BIRTHDATE: '1990-01-01',
  COUNTRY: 'Exampleland',
  ADDR_LINE1: '1 Example Street',
  ADDR_LINE2: 'Sampletown 00000',
});

/** Longest value, so a reply line stays under the 1000-byte limit with room to spare. */
export const MAX_VALUE_BYTES = 900;

/**
 * Merge partial values over the defaults and validate them.
 * @throws ConfigError for an unknown field or a value that cannot go on one line.
 */
export function makeProfile(values: Record<string, unknown> = {}, source = 'profile'): Profile {
  const profile: Profile = { ...DEFAULT_PROFILE };
  for (const [key, value] of Object.entries(values)) {
    if (!(BODY_COMMANDS as readonly string[]).includes(key)) {
      throw new ConfigError('TLSLP_ERR_BAD_PROFILE', {
        source,
        unknown: JSON.stringify(key),
        fields: BODY_COMMANDS.join(', '),
      });
    }
    if (typeof value !== 'string')
      throw new ConfigError('TLSLP_ERR_BAD_PROFILE', {
        source,
        field: key,
        notString: true,
      });
    if (/[\n\r]/.test(value))
      throw new ConfigError('TLSLP_ERR_BAD_PROFILE', {
        source,
        field: key,
        lineBreak: true,
      });
    if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
      throw new ConfigError('TLSLP_ERR_BAD_PROFILE', {
        source,
        field: key,
        maxBytes: MAX_VALUE_BYTES,
      });
    }
    profile[key as BodyCommand] = value;
  }
  return profile;
}

/** Options of {@link loadProfile}. */
export interface LoadProfileOptions {
  /**
   * Fill fields the file lacks with the sample data (`--profile-partial`). Off by default:
   * a partial profile silently sent `Jane Doe` for the missing fields.
   */
  partial?: boolean;
}

/**
 * Read a JSON profile file (`--profile FILE`): an object with all eight fields (or some of
 * them, with `partial`).
 * @throws ConfigError naming the file and the fix, listing missing fields.
 */
export async function loadProfile(
  path: string,
  options: LoadProfileOptions = {},
): Promise<Profile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_PROFILE_FILE',
      {
        fileOption: 'profile',
        path,
        errno: (err as NodeJS.ErrnoException).code ?? 'error',
      },
      { cause: err },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      'TLSLP_ERR_PROFILE_FILE',
      { fileOption: 'profile', path, syntax: (err as Error).message },
      { cause: err },
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError('TLSLP_ERR_PROFILE_FILE', {
      fileOption: 'profile',
      path,
      notObject: true,
    });
  }
  const profile = makeProfile(data as Record<string, unknown>, `profile file ${path}`);
  const missing = BODY_COMMANDS.filter((field) => !Object.hasOwn(data, field));
  if (missing.length > 0 && options.partial !== true) {
    throw new ConfigError('TLSLP_ERR_PROFILE_INCOMPLETE', {
      fileOption: 'profile',
      path,
      fields: missing.join(', '),
      option: 'partial',
    });
  }
  return profile;
}
