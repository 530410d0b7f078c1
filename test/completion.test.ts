import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const TLSLP = 'dist/cli/tlslp.js';

function tlslp(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TLSLP, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What bash offers for the words typed so far (the last one being completed). */
function complete(script: string, fn: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync(
    'bash',
    [
      '-c',
      `eval "$SCRIPT"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { env: { ...process.env, SCRIPT: script }, encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('tlslp completion', () => {
  const bash = tlslp('completion', 'bash');

  it('bash: bins complete their flags, flag values and files', () => {
    expect(bash.status).toBe(0);
    const s = bash.stdout;
    expect(complete(s, '_tlslp_bin_server', ['tlslp-server', '--log-l'])).toEqual(['--log-level']);
    expect(complete(s, '_tlslp_bin_server', ['tlslp-server', '--log-level', 'W'])).toEqual([
      'WARNING',
    ]);
    expect(complete(s, '_tlslp_bin_client', ['tlslp-client', '--kernel', ''])).toContain('wasm');
    // A file flag completes paths: package.json is in the working folder.
    expect(complete(s, '_tlslp_bin_server', ['tlslp-server', '--ca-cert', 'package.js'])).toEqual([
      'package.json',
    ]);
    // A free value (a port) offers nothing rather than flags.
    expect(complete(s, '_tlslp_bin_server', ['tlslp-server', '--port', ''])).toEqual([]);
  });

  it('bash: tlslp completes subcommands, then each one as its own bin', () => {
    const s = bash.stdout;
    expect(complete(s, '_tlslp_main', ['tlslp', 'c'])).toEqual(['certs', 'client', 'completion']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'server', '--max-co'])).toEqual([
      '--max-connections',
    ]);
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', '--fo'])).toEqual(['--force']);
    // certs has subcommands: their names at the third word, then each one's own flags.
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 're'])).toEqual(['revoke']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'cr'])).toEqual(['crl']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'crl', '--'])).toEqual(
      expect.arrayContaining(['--init', '--list', '--refresh', '--crl-days', '--force', '--json']),
    );
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'client', '--na'])).toEqual(['--name']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'client', '--key-type', ''])).toEqual([
      'ec',
      'rsa',
    ]);
    expect(
      complete(s, '_tlslp_main', ['tlslp', 'certs', 'revoke', '--cert', 'package.js']),
    ).toEqual(['package.json']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'completion', '--he'])).toEqual(['--help']);
    // The demo's flags come from its table.
    expect(complete(s, '_tlslp_main', ['tlslp', 'demo', '--'])).toEqual(
      expect.arrayContaining(['--n-bits', '--requests']),
    );
    expect(complete(s, '_tlslp_main', ['tlslp', 'demo', '--requests', ''])).toEqual([]);
  });

  it('bash: file names after certs show, shell names after completion, auto for --n_bits and --workers', () => {
    const s = bash.stdout;
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'show', 'package.js'])).toEqual([
      'package.json',
    ]);
    // A flag is still a flag there.
    expect(complete(s, '_tlslp_main', ['tlslp', 'certs', 'show', '--js'])).toEqual(['--json']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'completion', ''])).toEqual([
      'bash',
      'zsh',
      'fish',
    ]);
    expect(complete(s, '_tlslp_main', ['tlslp', 'completion', 'z'])).toEqual(['zsh']);
    for (const flag of ['--n_bits', '--n-bits', '--workers'])
      expect(complete(s, '_tlslp_bin_server', ['tlslp-server', flag, ''])).toEqual(['auto']);
    expect(complete(s, '_tlslp_main', ['tlslp', 'server', '--n_bits', 'a'])).toEqual(['auto']);
    // The bins' operands (a WORK token) are not files.
    expect(complete(s, '_tlslp_bin_work', ['tlslp-work', 'package.js'])).toEqual([]);
  });

  it('zsh loads the bash functions through bashcompinit', () => {
    const r = tlslp('completion', 'zsh');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('#compdef tlslp tlslp-server tlslp-client tlslp-work\n')).toBe(true);
    expect(r.stdout).toContain('bashcompinit');
    expect(r.stdout).toContain('complete -o filenames -F _tlslp_bin_server tlslp-server');
  });

  it('fish: one complete line per flag, files and choices marked', () => {
    const r = tlslp('completion', 'fish');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain(
      "complete -c tlslp-server -l server-cert -r -F -d 'server certificate (PEM)'",
    );
    expect(lines.some((l) => l.startsWith('complete -c tlslp-client -l kernel -x -a'))).toBe(true);
    expect(
      lines.some((l) => l.includes('__fish_seen_subcommand_from server') && l.includes('-l port')),
    ).toBe(true);
    expect(
      lines.some(
        (l) => l.includes('__fish_seen_subcommand_from revoke') && l.includes('-l serial'),
      ),
    ).toBe(true);
    expect(lines).toContain(
      "complete -c tlslp -n '__fish_seen_subcommand_from certs; and __fish_seen_subcommand_from show' -F",
    );
    expect(lines).toContain(
      "complete -c tlslp -n '__fish_seen_subcommand_from completion' -x -a 'bash zsh fish'",
    );
    expect(lines).toContain(
      "complete -c tlslp-server -l n_bits -x -a 'auto' -d 'WORK difficulty, 0..64 trailing zero bits; auto: follows the load between --min-bits and --max-bits'",
    );
  });

  it('refuses an unknown shell with exit 2', () => {
    const r = tlslp('completion', 'powershell');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bash, zsh, fish');
  });

  it('certs and demo answer --version', () => {
    for (const sub of ['certs', 'demo']) {
      const r = tlslp(sub, '--version');
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    }
  });
});

describe('output into a pipe that closes early', () => {
  it('`tlslp completion bash | true` (a reader gone before the write) ends quietly, exit 0', () => {
    // pipefail: the status is tlslp's own. `true` exits before node has started, so the
    // write meets a closed pipe (EPIPE), as `| head -1` does once head has its line.
    const r = spawnSync(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" ${TLSLP} completion bash | true`],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
