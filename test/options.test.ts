/** The option tables: defaults, validation naming the option, the CLI naming the flag, docs. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CERT_FILE_NAMES } from '../src/pki/generate.js';
import { clientCommand, clientMain } from '../src/cli/client.js';
import { tableValues, withFlagNames } from '../src/cli/options.js';
import { serverCommand, serverMain } from '../src/cli/server.js';
import { workCommand } from '../src/cli/work.js';
import { runClient } from '../src/client/client.js';
import { ConfigError } from '../src/errors/index.js';
import type { KernelChoice } from '../src/solver/kernels/index.js';
import {
  CERTS_CLIENT_OPTIONS,
  CERTS_CRL_CLI_OPTIONS,
  CERTS_CRL_LIB_OPTIONS,
  CERTS_CRL_OPTIONS,
  CERTS_OPTIONS,
  CERTS_REVOKE_CLI_OPTIONS,
  CERTS_REVOKE_LIB_OPTIONS,
  CERTS_REVOKE_OPTIONS,
  CERTS_SERVER_OPTIONS,
  CERTS_SHOW_CLI_OPTIONS,
  CERTS_SHOW_OPTIONS,
  CLIENT_CLI_OPTIONS,
  CLIENT_LIB_OPTIONS,
  CLIENT_OPTIONS,
  COMMAND_OPTIONS,
  DEMO_OPTIONS,
  LIBRARY_OPTIONS,
  SERVER_CLI_OPTIONS,
  SERVER_LIB_OPTIONS,
  SERVER_OPTIONS,
  SOLVER_OPTIONS,
  WORK_CLI_OPTIONS,
  WORK_OPTIONS,
  commandTable,
  resolveClientOptions,
  resolveDemoOptions,
  resolveServerCommand,
  resolveServerOptions,
  resolveWorkOptions,
  type InputOf,
  type OptionTable,
} from '../src/options/index.js';
import type { InitCrlOptions, RevokeOptions } from '../src/pki/crl.js';
import type { IssueClientOptions, IssueServerOptions } from '../src/pki/issue.js';
import type { SolveOptions } from '../src/solver/solve.js';
import { flagTable, renderFlagTables } from '../src/options/docs.js';
import { CERT_PATHS } from '../src/options/shared.js';
import { TlslpServer, type ServerOptions } from '../src/server/server.js';
import type { ServerTableOptions } from '../src/options/server.js';
import type { ClientTableOptions } from '../src/options/client.js';
import type { ClientOptions } from '../src/client/client.js';

const root = join(import.meta.dirname, '..');

/** The error `fn` throws (or the promise rejects with). */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** One option set to a value of any type, as a JavaScript caller may pass it. */
function given(option: string, value: unknown): Record<never, never> {
  return { [option]: value };
}

/** Expect a ConfigError naming `option` in its field and at the start of its message. */
function expectNamed(err: unknown, option: string): void {
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).option).toBe(option);
  expect((err as ConfigError).message.startsWith(`${option} `), (err as Error).message).toBe(true);
}

describe('defaults', () => {
  it('the server fills every default from its table', () => {
    const o = resolveServerOptions({});
    expect(o).toMatchObject({
      host: 'localhost',
      port: 1234,
      nBits: 28,
      workTimeoutMs: 1_800_000,
      otherTimeoutMs: 10_000,
      handshakeTimeoutMs: 10_000,
      maxConnections: 10_000,
      maxPerIp: 0,
      maxHandshakes: 1000,
      maxHandshakesPerIp: 32,
      maxHandshakeBytes: 16_384,
      maxChainDepth: 4,
      maxHandshakeFailuresPerIp: 30,
      statsIntervalMs: 0,
      bodyRequests: 20,
      insecure: false,
      tutorial: false,
    });
    expect(o.adaptive).toBeUndefined();
    expect(o.token).toBeUndefined();
  });

  it('a given value wins; other fields pass through untouched', () => {
    const logger = { name: 'x' };
    const o = resolveServerOptions({ maxPerIp: 3, port: 0, logger });
    expect(o).toMatchObject({ maxPerIp: 3, port: 0, maxConnections: 10_000 });
    expect(o.logger).toBe(logger);
  });

  it('nBits auto becomes the adaptive bounds, and nBits their lowest', () => {
    const o = resolveServerOptions({ nBits: 'auto', maxBits: 20 });
    expect(o.adaptive).toEqual({ minBits: 16, maxBits: 20 });
    expect(o.nBits).toBe(16);
    const tuned = resolveServerOptions({
      nBits: 'auto',
      adaptive: { minBits: 1, maxBits: 2, maxStepUp: 9 },
    });
    expect(tuned.adaptive).toEqual({ minBits: 16, maxBits: 28, maxStepUp: 9 });
  });

  it('the client: its session deadline follows the WORK timeout unless given', () => {
    expect(resolveClientOptions({}).sessionTimeoutMs).toBe(1_800_000 + 120_000);
    expect(resolveClientOptions({ workTimeoutMs: 1000 }).sessionTimeoutMs).toBe(121_000);
    expect(resolveClientOptions({ sessionTimeoutMs: 5 }).sessionTimeoutMs).toBe(5);
    expect(resolveClientOptions({}).ports).toEqual([3115, 7883, 8235, 38154, 1234, 55532]);
  });

  it('work and the CLI-only server options', () => {
    expect(resolveWorkOptions({})).toEqual({
      json: false,
      kernel: 'auto',
      quiet: false,
      verbose: false,
    });
    expect(resolveServerCommand({}, false)).toMatchObject({
      workers: 1,
      shutdownGraceMs: 10_000,
      metricsHost: '127.0.0.1',
      logLevel: 'INFO',
      logFormat: 'text',
    });
  });

  it('the demo: its defaults and checks come from its table, as its flags do', () => {
    expect(resolveDemoOptions({})).toEqual({
      nBits: 20,
      bodyRequests: 20,
      keepCertificates: false,
    });
    expect(() => resolveDemoOptions({ nBits: 41 })).toThrow(
      'nBits must be between 0 and 40, not 41',
    );
    expect(DEMO_OPTIONS.nBits.flag).toBe('--n-bits');
  });

  it('certificate paths are those tlslp certs writes', () => {
    for (const [key, path] of Object.entries(CERT_PATHS)) {
      const file = CERT_FILE_NAMES[key as keyof typeof CERT_FILE_NAMES];
      expect(path).toBe(`${CERTS_OPTIONS.dir.default}/${file}`);
    }
  });
});

describe('the library refuses bad values, naming the option', () => {
  it.each<[string, unknown]>([
    ['maxConnections', -5],
    ['maxConnections', 1.5],
    ['maxConnections', '10'],
    ['maxPerIp', Number.NaN],
    ['port', 70_000],
    ['otherTimeoutMs', 'x'],
    ['otherTimeoutMs', 0],
    ['workTimeoutMs', Number.POSITIVE_INFINITY],
    ['statsIntervalMs', -1],
    ['nBits', 65],
    ['nBits', 'high'],
    ['minBits', -1],
    ['token', 'a b'],
    ['randomString', ''],
    ['host', 5],
    ['insecure', 'yes'],
    ['bodyRequests', -1],
  ])('server %s = %j', async (option, value) => {
    expectNamed(await errorOf(() => resolveServerOptions(given(option, value))), option);
  });

  it.each<[string, unknown]>([
    ['ports', []],
    ['ports', [0]],
    ['ports', '1234'],
    ['maxRequests', -1],
    ['sessionTimeoutMs', Number.NaN],
    ['workBinary', 3],
    ['tutorial', 1],
  ])('client %s = %j', async (option, value) => {
    expectNamed(await errorOf(() => resolveClientOptions(given(option, value))), option);
  });

  it.each<[string, unknown]>([
    ['threads', 0],
    ['threads', 1025],
    ['kernel', 'gpu'],
  ])('solver %s = %j', async (option, value) => {
    expectNamed(
      await errorOf(() => resolveClientOptions({ solverOptions: given(option, value) })),
      option,
    );
    expectNamed(await errorOf(() => resolveWorkOptions(given(option, value))), option);
  });

  it('new TlslpServer and runClient check before anything else', async () => {
    const server = (options: Record<never, never>) => () =>
      new TlslpServer({ tls: {}, ...options });
    const e1 = await errorOf(server(given('maxConnections', -5)));
    expectNamed(e1, 'maxConnections');
    expect((e1 as Error).message).toBe('maxConnections must be between 1 and 1000000, not -5');
    const e2 = await errorOf(server(given('otherTimeoutMs', 'x')));
    expectNamed(e2, 'otherTimeoutMs');
    expect((e2 as Error).message).toBe(
      'otherTimeoutMs must be a positive number of milliseconds, not "x"',
    );
    expectNamed(await errorOf(() => runClient({ tls: {}, maxRequests: -1 })), 'maxRequests');
  });

  it('cross-checks name an option too', async () => {
    expectNamed(await errorOf(() => resolveServerOptions({ minBits: 10 })), 'minBits');
    expectNamed(await errorOf(() => resolveServerOptions({ nBits: 12, maxBits: 20 })), 'maxBits');
    const order = await errorOf(() =>
      resolveServerOptions({ nBits: 'auto', minBits: 20, maxBits: 10 }),
    );
    expectNamed(order, 'minBits');
    expect((order as Error).message).toBe('minBits (20) must not be above maxBits (10)');
    const tutorial = await errorOf(() => resolveServerOptions({ nBits: 'auto', tutorial: true }));
    expect((tutorial as ConfigError).option).toBe('nBits');
    expect(
      ((await errorOf(() => resolveServerCommand({ workers: 2 }, true))) as ConfigError).option,
    ).toBe('workers');
    expect(resolveServerCommand({ workers: 2 }, false).workers).toBe(2);
  });
});

describe('the CLI names the flag', () => {
  it('maps the option at fault and every camelCase option named to its flag', () => {
    const mapped = withFlagNames(
      new ConfigError('TLSLP_ERR_BAD_OPTION', {
        option: 'maxConnections',
        expected: 'between 1 and 1000000',
        value: -5,
      }),
      SERVER_OPTIONS,
    );
    expect(mapped).toBeInstanceOf(ConfigError);
    expect(mapped.message).toBe('--max-connections must be between 1 and 1000000, not -5');
    expect(mapped.option).toBe('maxConnections');
    expect(mapped.code).toBe('TLSLP_ERR_BAD_OPTION');
    const plain = withFlagNames(
      new ConfigError('TLSLP_ERR_TUTORIAL_WORKERS', { option: 'workers' }),
      SERVER_OPTIONS,
    );
    expect(plain.message).toBe('tutorial mode serves one session: drop --workers');
    // Text around the template (a context) is kept; a name not in the table stays.
    const aliased = withFlagNames(
      new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' }),
      SERVER_OPTIONS,
      { 'tls.ca': 'caCert' },
    );
    expect(aliased.message).toContain('(--ca-cert)');
    const other = new ConfigError('TLSLP_ERR_NO_CA', { option: 'tls.ca' });
    expect(withFlagNames(other, SERVER_OPTIONS).message).toContain('(tls.ca)');
  });

  it('tlslp-server prints the flags of a cross-check', async () => {
    await expect(
      serverMain(['--n_bits', 'auto', '--min-bits', '20', '--max-bits', '10']),
    ).rejects.toThrow('--min-bits (20) must not be above --max-bits (10)');
    await expect(serverMain(['--tutorial', '--n_bits', 'auto'])).rejects.toThrow(
      'tutorial mode needs a fixed --n_bits, not auto',
    );
  });

  it('a bad flag value is refused by the flag parser, named by its flag', async () => {
    await expect(clientMain(['--threads', '1025'])).rejects.toThrow(
      /--threads must be between 1 and 1024/,
    );
    await expect(serverMain(['--max-connections', '0'])).rejects.toThrow(
      /--max-connections must be between 1 and 1000000/,
    );
  });

  it('tlslp-client and tlslp work take the same kernels and threads', () => {
    const parse = (command: Command, argv: string[]) =>
      tableValues(
        command.configureOutput({ writeErr: () => {} }).parse(argv, { from: 'user' }),
        WORK_OPTIONS,
      );
    expect(parse(clientCommand(), ['--threads', '1024', '--kernel', 'js'])).toEqual({
      threads: 1024,
      kernel: 'js',
    });
    expect(parse(workCommand(), ['--threads', '1024', '--kernel', 'js', 'abc', '1'])).toEqual({
      threads: 1024,
      kernel: 'js',
    });
    for (const command of [clientCommand(), workCommand()])
      expect(() => parse(command, ['--threads', '1025', 'abc', '1'])).toThrow(/--threads/);
  });

  it('flag values reach the library in its units, by its names', () => {
    const values = tableValues(
      serverCommand().parse(['--work-timeout', '1.5', '--n-bits', '7', '--stats-interval', '0'], {
        from: 'user',
      }),
      SERVER_OPTIONS,
    );
    expect(values).toEqual({ workTimeoutMs: 1500, nBits: 7, statsIntervalMs: 0 });
  });
});

const helpText: Record<string, string> = {};

/** The `--help` of each command. */
const HELP: Record<string, () => string> = {
  server: () => serverCommand().helpInformation(),
  client: () => clientCommand().helpInformation(),
  work: () => workCommand().helpInformation(),
  demo: () => tlslpHelp('demo'),
  certs: () => tlslpHelp('certs'),
  'certs-client': () => tlslpHelp('certs', 'client'),
  'certs-server': () => tlslpHelp('certs', 'server'),
  'certs-show': () => tlslpHelp('certs', 'show'),
  'certs-revoke': () => tlslpHelp('certs', 'revoke'),
  'certs-crl': () => tlslpHelp('certs', 'crl'),
};

function tlslpHelp(...command: string[]): string {
  return execFileSync(
    process.execPath,
    [join(root, 'dist', 'cli', 'tlslp.js'), ...command, '--help'],
    {
      encoding: 'utf8',
    },
  );
}

describe('the tables and what is derived from them', () => {
  const entries = Object.entries(COMMAND_OPTIONS).flatMap(([command, table]) =>
    Object.entries(table).map(([key, entry]) => ({ command, key, entry })),
  );

  it.each(entries)(
    '$command: $key: its default is a value it accepts, and reads back from its flag form',
    ({ entry }) => {
      if (entry.default === undefined) return;
      expect(entry.kind.expected(entry.default)).toBeNull();
      if (entry.flag !== undefined && entry.value !== undefined)
        // A variadic flag takes each value as one argument (`--host a b`).
        expect(
          entry.kind.variadic && Array.isArray(entry.default)
            ? entry.default.flatMap((v: unknown) => entry.kind.parse(String(v)) as unknown[])
            : entry.kind.parse(entry.kind.show(entry.default)),
        ).toEqual(entry.default);
    },
  );

  it.each(entries.filter((e) => e.entry.flag !== undefined))(
    '$command: $key appears in --help',
    ({ command, entry }) => {
      const help = (helpText[command] ??= HELP[command]?.() ?? '');
      for (const flag of [entry.flag, ...(entry.aliases ?? [])]) expect(help).toContain(`${flag}`);
    },
  );

  it.each([
    ['server', SERVER_OPTIONS, SERVER_LIB_OPTIONS, SERVER_CLI_OPTIONS],
    ['client', CLIENT_OPTIONS, CLIENT_LIB_OPTIONS, CLIENT_CLI_OPTIONS],
    ['work', WORK_OPTIONS, SOLVER_OPTIONS, WORK_CLI_OPTIONS],
    ['certs-revoke', CERTS_REVOKE_OPTIONS, CERTS_REVOKE_LIB_OPTIONS, CERTS_REVOKE_CLI_OPTIONS],
    ['certs-crl', CERTS_CRL_OPTIONS, CERTS_CRL_LIB_OPTIONS, CERTS_CRL_CLI_OPTIONS],
    ['certs-show', CERTS_SHOW_OPTIONS, {}, CERTS_SHOW_CLI_OPTIONS],
  ] as const)(
    '%s: the library entries and the CLI-only ones are two tables, the command lists both',
    (_name, all, lib, cli) => {
      // The library's part is one of the library's tables (what types its options).
      if (Object.keys(lib).length > 0) expect(Object.values(LIBRARY_OPTIONS)).toContain(lib);
      for (const key of Object.keys(cli)) expect(Object.keys(lib)).not.toContain(key);
      const keys = Object.keys(all);
      expect([...keys].sort()).toEqual([...Object.keys(lib), ...Object.keys(cli)].sort());
      for (const key of keys)
        expect((all as OptionTable)[key]).toBe({ ...lib, ...cli }[key as keyof typeof all]);
      // --help lists them in the command's order, the library's and the CLI's interleaved.
      if (_name === 'server' || _name === 'client')
        expect(keys.slice(0, 4)).toEqual(
          _name === 'server'
            ? ['config', 'host', 'port', 'serverCert']
            : ['host', 'ports', 'clientCert', 'privateKey'],
        );
    },
  );

  it('every flag appears in README.md, and the README tables are the generated ones', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(renderFlagTables(readme, COMMAND_OPTIONS), 'run npm run docs:options').toBe(readme);
    for (const [name, table] of Object.entries(COMMAND_OPTIONS)) {
      expect(readme).toContain(`<!-- options:${name}:start -->\n\n${flagTable(table)}\n\n`);
      for (const entry of Object.values(table))
        if (entry.flag) expect(readme).toContain(`\`${entry.flag}`);
    }
  });

  it("the guide's limits table quotes the server's defaults", () => {
    const guide = readFileSync(join(root, 'docs', 'guide.md'), 'utf8');
    const quoted = [...guide.matchAll(/^\| [^|]+\| `(--[a-z_-]+)` \((\d+)/gm)];
    expect(quoted.length).toBeGreaterThan(5);
    for (const [, flag, value] of quoted) {
      const entry = Object.values(SERVER_OPTIONS as OptionTable).find((e) => e.flag === flag);
      expect(entry, flag).toBeDefined();
      if (entry?.default !== undefined) expect(entry.kind.show(entry.default), flag).toBe(value);
    }
  });
});

describe('the types derived from the tables', () => {
  it('library options are typed by their entries; resolved ones with a default are set', () => {
    expectTypeOf<ServerOptions['maxConnections']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<ServerOptions['nBits']>().toEqualTypeOf<number | 'auto' | undefined>();
    expectTypeOf<ServerOptions['token']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ClientOptions['ports']>().toEqualTypeOf<readonly number[] | undefined>();
    expectTypeOf<TlslpServer['options']['maxConnections']>().toEqualTypeOf<number>();
    expectTypeOf<TlslpServer['options']['nBits']>().toEqualTypeOf<number>();
    expectTypeOf<TlslpServer['options']['token']>().toEqualTypeOf<string | undefined>();
    expectTypeOf(resolveWorkOptions({}).kernel).toEqualTypeOf<KernelChoice>();
    expectTypeOf<TlslpServer['options']['proxyFrom']>().toEqualTypeOf<readonly string[]>();
    // The library's types come from its table alone.
    expectTypeOf<keyof ServerTableOptions>().toEqualTypeOf<keyof typeof SERVER_LIB_OPTIONS>();
    expectTypeOf<keyof ClientTableOptions>().toEqualTypeOf<keyof typeof CLIENT_LIB_OPTIONS>();
    // CLI-only options are not library options.
    expectTypeOf<ServerOptions>().not.toHaveProperty('workers');
    expectTypeOf<ServerOptions>().not.toHaveProperty('logLevel');
  });

  it("the functions whose option types are written by hand take every key of their table's", () => {
    type Keys<T extends OptionTable> = keyof InputOf<T, keyof T>;
    expectTypeOf<Keys<typeof CERTS_REVOKE_LIB_OPTIONS>>().toExtend<keyof RevokeOptions>();
    expectTypeOf<Keys<typeof CERTS_CRL_LIB_OPTIONS>>().toExtend<keyof InitCrlOptions>();
    expectTypeOf<Keys<typeof CERTS_CLIENT_OPTIONS>>().toExtend<keyof IssueClientOptions>();
    expectTypeOf<Keys<typeof CERTS_SERVER_OPTIONS>>().toExtend<keyof IssueServerOptions>();
    expectTypeOf<Keys<typeof SOLVER_OPTIONS>>().toExtend<keyof SolveOptions>();
    // The CLI's own are not the library's.
    expectTypeOf<'cert'>().not.toExtend<keyof RevokeOptions>();
    expectTypeOf<'json' | 'init' | 'list' | 'refresh'>().not.toExtend<keyof InitCrlOptions>();
  });

  it("a command's table lists every key of its two tables, once", () => {
    const lib = { port: SERVER_LIB_OPTIONS.port };
    const cli = { quiet: SERVER_CLI_OPTIONS.quiet };
    expect(Object.keys(commandTable(lib, cli, ['quiet', 'port']))).toEqual(['quiet', 'port']);
    // @ts-expect-error: the order leaves `quiet` out
    commandTable(lib, cli, ['port']);
    // @ts-expect-error: `port` is in both tables
    commandTable(lib, { ...cli, port: SERVER_LIB_OPTIONS.port }, ['port', 'quiet']);
  });
});
