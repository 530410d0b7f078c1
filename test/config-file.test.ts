/** `tlslp-server --config FILE`: JSON or TOML options under the command line's flags. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../src/pki/generate.js';
import { applyConfigFile } from '../src/cli/config-file.js';
import { tableValues } from '../src/cli/options.js';
import { serverCommand } from '../src/cli/server.js';
import { ConfigError } from '../src/errors/index.js';
import { SERVER_OPTIONS } from '../src/options/server.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs('tlslp-config-');
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Parse `argv` as tlslp-server does, apply its --config, and return the options given. */
function resolveFlags(argv: string[]): Record<string, unknown> {
  const command = serverCommand().parse(argv, { from: 'user' });
  const config = command.opts<{ config?: string }>().config;
  if (config !== undefined) applyConfigFile(command, config);
  return tableValues(command, SERVER_OPTIONS);
}

describe('applyConfigFile', () => {
  it('reads TOML with flag names; values go through the flag parsers', async () => {
    const path = await file(
      'a.toml',
      'max-connections = 500\nn_bits = "auto"\nmax-bits = 24\nlog-format = "json"\ninsecure = true\nhost = "127.0.0.1"\n',
    );
    expect(resolveFlags(['--config', path])).toMatchObject({
      maxConnections: 500,
      nBits: 'auto',
      maxBits: 24,
      logFormat: 'json',
      insecure: true,
      host: '127.0.0.1',
    });
  });

  it('reads JSON with the same flag names', async () => {
    const path = await file('a.json', '{"max-per-ip": 3, "work-timeout": 60, "insecure": false}');
    expect(resolveFlags(['--config', path])).toMatchObject({
      maxPerIp: 3,
      workTimeoutMs: 60_000,
      insecure: false,
    });
  });

  it('takes a list for every repeatable flag, in TOML and JSON; a lone value is a list of one', async () => {
    const toml = await file(
      'lists.toml',
      'allow-cn = ["api-client", "batch-client"]\nallow-ou = "payments"\nproxy-from = ["10.0.0.5/32", "::1"]\nallow-dns = ["a.example.org"]\nallow-uri = ["spiffe://example.org/api"]\n',
    );
    expect(resolveFlags(['--config', toml])).toMatchObject({
      allowCn: ['api-client', 'batch-client'],
      allowOu: ['payments'],
      proxyFrom: ['10.0.0.5/32', '::1'],
      allowDns: ['a.example.org'],
      allowUri: ['spiffe://example.org/api'],
    });
    const json = await file('lists.json', '{"allow-cn": ["a", "b"], "proxy-from": ["127.0.0.1"]}');
    expect(resolveFlags(['--config', json])).toMatchObject({
      allowCn: ['a', 'b'],
      proxyFrom: ['127.0.0.1'],
    });
  });

  it('a no- switch is its flag name: no-simulate-failures = true turns the draw off', async () => {
    expect(resolveFlags([])).not.toHaveProperty('simulateFailures');
    expect(resolveFlags(['--no-simulate-failures'])).toMatchObject({ simulateFailures: false });
    const off = await file('off.toml', 'no-simulate-failures = true\n');
    expect(resolveFlags(['--config', off])).toMatchObject({ simulateFailures: false });
    const on = await file('on.toml', 'no-simulate-failures = false\n');
    expect(resolveFlags(['--config', on])).toMatchObject({ simulateFailures: true });
  });

  it('every variadic option of the server is a list key', () => {
    const variadic = serverCommand()
      .options.filter((o) => o.variadic)
      .map((o) => o.long);
    expect(variadic).toEqual(
      expect.arrayContaining([
        '--proxy-from',
        '--allow-cn',
        '--allow-ou',
        '--allow-dns',
        '--allow-uri',
      ]),
    );
  });

  it('a flag on the command line wins over the file; the rest of the file still applies', async () => {
    const path = await file('b.toml', 'max-per-ip = 3\nmax-connections = 500\n');
    expect(resolveFlags(['--config', path, '--max-per-ip', '7'])).toMatchObject({
      maxPerIp: 7,
      maxConnections: 500,
    });
  });

  it.each([
    [
      'unknown.toml',
      'max-conections = 5\n',
      /unknown option "max-conections"; did you mean "max-connections"\?/,
    ],
    ['far.toml', 'colour = 5\n', /unknown option "colour"$/],
    ['camel.toml', 'nBits = 8\n', /unknown option "nBits"; did you mean "n_bits"\?/],
    ['alias.toml', 'n-bits = 8\n', /unknown option "n-bits"; did you mean "n_bits"\?/],
    ['camel.json', '{"maxPerIp": 3}', /unknown option "maxPerIp"; did you mean "max-per-ip"\?/],
    [
      'twice.toml',
      'n_bits = 8\nnBits = 30\n',
      /"nBits" is "n_bits" given twice; keep one, spelt "n_bits"/,
    ],
    ['twice.json', '{"max-per-ip": 3, "max-per-ip": 4}', /"max-per-ip" is given twice/],
    ['twice2.toml', 'port = 1\nport = 2\n', /not valid TOML/],
    ['version.toml', 'version = true\n', /"version" is not a setting/],
    ['help.json', '{"help": true}', /"help" is not a setting/],
    ['config.toml', 'config = "other.toml"\n', /"config" is not a setting/],
    ['notlist.toml', 'port = [1, 2]\n', /"port" takes one value, not a list/],
    ['empty.toml', 'allow-cn = []\n', /"allow-cn" is an empty list/],
    ['nested.toml', 'allow-cn = [["a"]]\n', /"allow-cn" must be a list of strings/],
    ['badcidr.toml', 'proxy-from = ["10.0.0.0/8", "nope"]\n', /"proxy-from": --proxy-from must be/],
    ['switch.toml', 'insecure = 1\n', /"insecure" must be true or false/],
    ['range.toml', 'max-per-ip = -1\n', /"max-per-ip": --max-per-ip must be an integer/],
    ['bool.toml', 'insecure = "yes"\n', /"insecure" must be true or false/],
    ['syntax.toml', 'max-per-ip = \n', /not valid TOML/],
    ['syntax.json', '{"maxPerIp": }', /not valid JSON/],
    ['list.json', '[1, 2]', /must hold a table of options/],
    ['choice.toml', 'log-format = "xml"\n', /log-format|text or json/],
  ])('refuses %s with a ConfigError naming the file and the key', async (name, text, why) => {
    const path = await file(name, text);
    let error: unknown;
    try {
      resolveFlags(['--config', path]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`--config ${path}`);
    expect((error as Error).message).toMatch(why);
  });

  it('a missing file is one clear error', () => {
    expect(() => resolveFlags(['--config', join(dir, 'nope.toml')])).toThrow(
      /--config .*nope\.toml: no such file/,
    );
  });
});

describe('the server bin with --config', () => {
  const bin = resolve(import.meta.dirname, '..', 'dist', 'cli', 'server.js');

  function run(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [bin, ...args], {
        cwd,
        env: { ...process.env, XDG_STATE_HOME: join(cwd, 'state') },
      });
      let out = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const take = (d: Buffer): void => {
        out += d.toString();
        // Once it listens, stop it: the address shows the file was applied.
        if (/listening on/.test(out)) child.kill('SIGTERM');
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, out });
      });
    });
  }

  it('listens where the file says, and a bad file is exit 2 with one line', async () => {
    const cwd = await tempDir();
    await makeCertificates(join(cwd, 'certificates'));
    await writeFile(join(cwd, 'server.toml'), 'host = "127.0.0.1"\nport = 0\nn_bits = 4\n');
    const ok = await run(['--config', 'server.toml'], cwd);
    expect(ok.out).toMatch(/tlslp-server listening on 127\.0\.0\.1:\d+/);
    expect(ok.code).toBe(0);

    await writeFile(join(cwd, 'bad.toml'), 'n_bits = 99\n');
    const bad = await run(['--config', 'bad.toml'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.out.trim().split('\n')).toEqual([
      expect.stringMatching(/^tlslp-server: error: --config bad\.toml: "n_bits": /),
    ]);
  });
});
