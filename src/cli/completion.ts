/**
 * `tlslp completion bash|zsh|fish`: shell completion scripts generated from the commands'
 * own definitions (the same commander objects that parse the flags), so a new flag is
 * completed without a second edit. Static scripts: pressing Tab runs no Node process.
 * @module
 */
import type { Command, Option } from 'commander';
import { COMMAND_OPTIONS } from '../options/index.js';

/** Shells a script can be generated for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
/** One of {@link SHELLS}. */
export type Shell = (typeof SHELLS)[number];

/** What one command accepts, as completion needs it. */
interface Spec {
  /** Function-name-safe key, e.g. `server`. */
  key: string;
  options: OptionSpec[];
  /** What its operands are, when completion can offer them: paths, or a fixed list. */
  operand?: { file: true } | { choices: readonly string[] };
}

interface OptionSpec {
  long: string;
  short?: string;
  description: string;
  /** Takes a value. */
  value: boolean;
  /** The value is a path. */
  file: boolean;
  /** The accepted values, when a fixed list. */
  choices?: readonly string[];
}

// The fixed value lists of the option tables' flags (their parsers are functions, which
// commander cannot list), and the words offered beside free values (`--n_bits auto`).
const VALUE_LISTS: ReadonlyMap<string, readonly string[]> = new Map(
  Object.values(COMMAND_OPTIONS)
    .flatMap((table) => Object.values(table))
    .flatMap((e) => {
      const choices = e.kind.choices ?? e.kind.suggestions;
      return e.flag && choices
        ? [e.flag, ...(e.aliases ?? [])].map((f) => [f, choices] as const)
        : [];
    }),
);

function optionSpec(o: Option): OptionSpec | null {
  if (!o.long || o.hidden) return null;
  const value = o.required || o.optional;
  const choices = o.argChoices ?? VALUE_LISTS.get(o.long);
  return {
    long: o.long,
    ...(o.short ? { short: o.short } : {}),
    description: o.description,
    value,
    file: value && /<(file|dir|path)[^>]*>/.test(o.flags),
    ...(choices ? { choices } : {}),
  };
}

function specOf(key: string, command: Command): Spec {
  const options = command.options.map(optionSpec).filter((o): o is OptionSpec => o !== null);
  for (const extra of ['--help', '--version'])
    if (!options.some((o) => o.long === extra))
      options.push({ long: extra, description: extra.slice(2), value: false, file: false });
  // The first operand: `certs show <file>` takes a path, `completion <shell>` a shell name.
  const first = command.registeredArguments[0];
  const operand = first?.argChoices
    ? { choices: first.argChoices }
    : first && /^(file|dir|path)/.test(first.name())
      ? ({ file: true } as const)
      : undefined;
  return { key, options, ...(operand ? { operand } : {}) };
}

/** The bins and the `tlslp` subcommands that completion knows. */
export interface CompletionCommands {
  /** `tlslp` itself, with its subcommands. */
  tlslp: Command;
  /** The commands behind `tlslp-server`, `tlslp-client` and `tlslp-work`. */
  server: Command;
  client: Command;
  work: Command;
}

const BINS = { server: 'tlslp-server', client: 'tlslp-client', work: 'tlslp-work' } as const;

function words(list: readonly string[]): string {
  return list.join(' ');
}

function bashSpecFunction(spec: Spec): string {
  const cases: string[] = [];
  const files = spec.options.filter((o) => o.file).map((o) => o.long);
  if (files.length)
    cases.push(`    ${files.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;`);
  for (const o of spec.options.filter((x) => x.choices))
    cases.push(
      `    ${o.long}) COMPREPLY=( $(compgen -W "${words(o.choices ?? [])}" -- "$cur") ); return 0 ;;`,
    );
  const free = spec.options.filter((o) => o.value && !o.file && !o.choices).map((o) => o.long);
  if (free.length) cases.push(`    ${free.join('|')}) return 0 ;;`);
  const all = spec.options.flatMap((o) => (o.short ? [o.long, o.short] : [o.long]));
  const operand = spec.operand
    ? 'file' in spec.operand
      ? [`  if [[ "$cur" != -* ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); return 0; fi`]
      : [
          `  if [[ "$cur" != -* ]]; then COMPREPLY=( $(compgen -W "${words(spec.operand.choices)}" -- "$cur") ); return 0; fi`,
        ]
    : [];
  return [
    `_tlslp_spec_${spec.key}() {`,
    '  case "$prev" in',
    ...cases,
    '  esac',
    ...operand,
    `  COMPREPLY=( $(compgen -W "${words(all)}" -- "$cur") )`,
    '}',
  ].join('\n');
}

/** A function-name-safe key for a command path, e.g. `sub_certs_client`. */
const subKey = (...names: string[]): string => `sub_${names.join('_').replace(/\W/g, '_')}`;

/**
 * The case arm of `tlslp <name>`: its own flags, or, for a command with subcommands
 * (`tlslp certs client`), their names at the third word and then the chosen one's flags.
 */
function bashSubCase(sub: Command): string {
  const name = sub.name();
  if (name in BINS) return `    ${name}) _tlslp_spec_${name} ;;`;
  if (sub.commands.length === 0) return `    ${name}) _tlslp_spec_${subKey(name)} ;;`;
  const nested = sub.commands.map((c) => c.name());
  return [
    `    ${name})`,
    `      if [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" != -* ]]; then COMPREPLY=( $(compgen -W "${words(nested)}" -- "$cur") ); return 0; fi`,
    '      case "${COMP_WORDS[2]}" in',
    ...nested.map((n) => `        ${n}) _tlslp_spec_${subKey(name, n)} ;;`),
    `        *) _tlslp_spec_${subKey(name)} ;;`,
    '      esac ;;',
  ].join('\n');
}

function bash(commands: CompletionCommands): string {
  const subs = commands.tlslp.commands.map((c) => c.name());
  const specs: Spec[] = [
    specOf('server', commands.server),
    specOf('client', commands.client),
    specOf('work', commands.work),
    ...commands.tlslp.commands
      .filter((c) => !(c.name() in BINS))
      .flatMap((c) => [
        specOf(subKey(c.name()), c),
        ...c.commands.map((n) => specOf(subKey(c.name(), n.name()), n)),
      ]),
    specOf('tlslp', commands.tlslp),
  ];
  const subCases = commands.tlslp.commands.map(bashSubCase);
  return [
    '# bash completion for tlslp, tlslp-server, tlslp-client and tlslp-work.',
    '# Generated by `tlslp completion bash`; load it with',
    '#   source <(tlslp completion bash)',
    ...specs.map(bashSpecFunction),
    ...Object.entries(BINS).map(
      ([key, bin]) =>
        `_tlslp_bin_${key}() {\n  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"\n  _tlslp_spec_${key}\n}\ncomplete -o filenames -F _tlslp_bin_${key} ${bin}`,
    ),
    '_tlslp_main() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    if [[ "$cur" == -* ]]; then _tlslp_spec_tlslp; else COMPREPLY=( $(compgen -W "${words(subs)}" -- "$cur") ); fi`,
    '    return 0',
    '  fi',
    '  case "${COMP_WORDS[1]}" in',
    ...subCases,
    '  esac',
    '}',
    'complete -o filenames -F _tlslp_main tlslp',
    '',
  ].join('\n');
}

function zsh(commands: CompletionCommands): string {
  // zsh runs bash completion functions through bashcompinit, which ships with zsh.
  return [
    '#compdef tlslp tlslp-server tlslp-client tlslp-work',
    '# zsh completion for tlslp. Generated by `tlslp completion zsh`; load it with',
    '#   source <(tlslp completion zsh)',
    'autoload -U +X bashcompinit && bashcompinit',
    bash(commands),
  ].join('\n');
}

function fishQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishOption(command: string, o: OptionSpec, condition?: string): string {
  const parts = ['complete', '-c', command];
  if (condition) parts.push('-n', fishQuote(condition));
  parts.push('-l', o.long.slice(2));
  if (o.short) parts.push('-s', o.short.slice(1));
  if (o.file) parts.push('-r', '-F');
  else if (o.choices) parts.push('-x', '-a', fishQuote(words(o.choices)));
  else if (o.value) parts.push('-x');
  parts.push('-d', fishQuote(o.description));
  return parts.join(' ');
}

/** The fish line for a command's operand, if completion can offer it. */
function fishOperand(spec: Spec, condition: string): string[] {
  if (!spec.operand) return [];
  const what =
    'file' in spec.operand ? ['-F'] : ['-x', '-a', fishQuote(words(spec.operand.choices))];
  return [['complete', '-c', 'tlslp', '-n', fishQuote(condition), ...what].join(' ')];
}

function fish(commands: CompletionCommands): string {
  const lines = [
    '# fish completion for tlslp. Generated by `tlslp completion fish`; load it with',
    '#   tlslp completion fish | source',
  ];
  for (const [key, bin] of Object.entries(BINS)) {
    lines.push(`complete -c ${bin} -f`);
    for (const o of specOf(key, commands[key as keyof typeof BINS]).options)
      lines.push(fishOption(bin, o));
  }
  lines.push('complete -c tlslp -f');
  for (const sub of commands.tlslp.commands) {
    lines.push(
      `complete -c tlslp -n __fish_use_subcommand -a ${sub.name()} -d ${fishQuote(sub.description())}`,
    );
    const source = sub.name() in BINS ? commands[sub.name() as keyof typeof BINS] : sub;
    const nested = sub.commands.map((c) => c.name());
    // A flag of `tlslp certs` itself only until one of its subcommands is given.
    const own =
      nested.length > 0
        ? `__fish_seen_subcommand_from ${sub.name()}; and not __fish_seen_subcommand_from ${words(nested)}`
        : `__fish_seen_subcommand_from ${sub.name()}`;
    const subSpec = specOf(sub.name(), source);
    for (const o of subSpec.options) lines.push(fishOption('tlslp', o, own));
    lines.push(...fishOperand(subSpec, own));
    for (const n of sub.commands) {
      const after = `__fish_seen_subcommand_from ${sub.name()}; and not __fish_seen_subcommand_from ${words(nested)}`;
      lines.push(
        `complete -c tlslp -n ${fishQuote(after)} -a ${n.name()} -d ${fishQuote(n.description())}`,
      );
      const inside = `__fish_seen_subcommand_from ${sub.name()}; and __fish_seen_subcommand_from ${n.name()}`;
      const nestedSpec = specOf(n.name(), n);
      for (const o of nestedSpec.options) lines.push(fishOption('tlslp', o, inside));
      lines.push(...fishOperand(nestedSpec, inside));
    }
  }
  return lines.join('\n') + '\n';
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, commands: CompletionCommands): string {
  if (shell === 'bash') return bash(commands);
  if (shell === 'zsh') return zsh(commands);
  return fish(commands);
}
