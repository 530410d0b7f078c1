#!/usr/bin/env node
/**
 * `tlslp`: the umbrella command (certs, demo, work, server, client).
 * @module
 */
import { Argument, Command } from 'commander';
import { addCertsCommand } from './certs.js';
import { SHELLS, completionScript, type Shell } from './completion.js';
import { DEMO_OPTIONS } from '../options/demo.js';
import { commanderOutput, EXIT, runMain } from './common.js';
import { isEntryPoint } from './entry.js';
import { VERSION, addTableOptions, tableValues } from './options.js';
import { colorsFor, transcriptPrinter } from './transcript.js';
import { hostPort } from '../text/address.js';

// The server and client bins load their whole stacks (TLS, metrics, config files): only
// when asked for, so that `tlslp work` starts about as fast as tlslp-work. The solver too
// loads only for work and demo, which `tlslp certs` must not wait for.
const serverCli = () => import('./server.js');
const clientCli = () => import('./client.js');
const workCli = () => import('./work.js');
const workMain = async (args: string[], name?: string): Promise<number> =>
  (await workCli()).workMain(args, name);

/** Run `tlslp` with `argv` (without the program name). Resolves with the exit code. */
export async function tlslpMain(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('tlslp')
    .description('TLS Line Protocol tools. See also the tlslp-server and tlslp-client commands.')
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput(commanderOutput('tlslp'));

  addCertsCommand(program);

  const demo = program
    .command('demo')
    .version(VERSION)
    .description(
      'run a full mutual-TLS session on loopback with throwaway certificates and print its transcript',
    );
  addTableOptions(demo, DEMO_OPTIONS).action(async () => {
    const out = process.stdout;
    const c = colorsFor(out);
    out.write(c.bold('tlslp demo: one full session over mutual TLS on loopback\n'));
    try {
      const { runDemo } = await import('../demo.js'); // loads the X.509 code: see certs
      const result = await runDemo({
        ...tableValues(demo, DEMO_OPTIONS),
        onListening: ({ host, port, certDir, nBits }) =>
          out.write(
            `  throwaway CA, server and client certificates in ${certDir}\n  server listening on ${hostPort(host, port)} (mutual TLS, n_bits ${nBits})\n\n`,
          ),
        onEvent: transcriptPrinter(out),
      });
      const s = result.server;
      out.write(
        `\n${c.green('✓')} client: DONE/OK after ${result.client.answered.length} requests (${result.client.protocol})\n` +
          `${c.green('✓')} server: session #${s.id} ended "${s.result.outcome}" in ${s.durationMs} ms\n`,
      );
    } finally {
      await (await import('../solver/index.js')).closeSolverPool();
    }
  });

  program
    .command('work')
    .description(
      'solve a WORK challenge: prints RESULT:<suffix> and Time: <seconds> seconds (same interface as the original solver)',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      code = await workMain(args, 'tlslp work');
    });

  program
    .command('server')
    .description('same as tlslp-server')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      code = await (await serverCli()).serverMain(args);
    });

  program
    .command('client')
    .description('same as tlslp-client')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      code = await (await clientCli()).clientMain(args);
    });

  program
    .command('completion')
    .description('print a shell completion script for every tlslp command')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      '\nLoad it in the running shell:\n  bash/zsh: source <(tlslp completion bash)   (or zsh)\n  fish:     tlslp completion fish | source',
    )
    .action(async (shell: Shell) => {
      const [server, client, work] = await Promise.all([serverCli(), clientCli(), workCli()]);
      process.stdout.write(
        completionScript(shell, {
          tlslp: program,
          server: server.serverCommand(),
          client: client.clientCommand(),
          work: work.workCommand(),
        }),
      );
    });

  // The pass-through subcommands get their arguments untouched: commander would take a
  // `--` or a `-V` meant for them (a WORK token may be either).
  const passThrough: Record<string, (args: string[]) => Promise<number>> = {
    work: (args) => workMain(args, 'tlslp work'),
    server: async (args) => (await serverCli()).serverMain(args),
    client: async (args) => (await clientCli()).clientMain(args),
  };
  const direct = argv[0] === undefined ? undefined : passThrough[argv[0]];
  if (direct) return direct(argv.slice(1));
  // The original's `work_challenge <token> <n_bits>` (a link of that name runs this file, or
  // bin/tlslp hands it over): the arguments choose the mode, not the program's name.
  const first = argv[0] ?? '';
  const isCommand = program.commands.some((c) => c.name() === first || c.aliases().includes(first));
  const operands = argv.length === 2 || (argv.length > 2 && !first.startsWith('-'));
  if (
    operands &&
    !isCommand &&
    !/^-(h|V|-help|-version)$/.test(first) &&
    /^\d+$/.test(argv.at(-1) ?? '')
  )
    return workMain(argv);

  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  await program.parseAsync(argv, { from: 'user' });
  return code;
}

if (isEntryPoint(import.meta.url)) await runMain('tlslp', () => tlslpMain(process.argv.slice(2)));
