// @ts-check
/**
 * The layer diagram of docs/guide.md (Architecture), enforced by `npm run lint`
 * (`depcruise src`): no import cycle, type-only imports included, and each folder of src/
 * imports only the folders below it in LAYERS. The CLI is on top and nothing imports it.
 */

/**
 * What each folder of src/ may import besides itself, lowest first. `.` is a file at the src/
 * root (index.ts, version.ts, demo.ts); `options/kinds` is the tables' machinery
 * (options/core.ts, kinds.ts, docs.ts), below logging so that the logger's own table can use
 * it, while the command tables (the rest of options/) sit above logging and read its levels.
 * @type {Record<string, string[]>}
 */
const LAYERS = {
  errors: ['text'],
  text: [],
  util: [],
  protocol: ['errors', 'text'],
  'options/kinds': ['errors', 'text'],
  logging: ['options/kinds', 'errors', 'text'],
  transport: ['protocol', 'errors', 'text'],
  tls: ['errors', 'text', 'util'],
  solver: ['protocol', 'errors', 'text', 'util'],
  state: ['errors', 'text', 'util'],
  options: ['options/kinds', 'solver', 'state', 'protocol', 'logging', 'errors', 'text'],
  pki: ['options', 'tls', 'errors', 'text', 'util'],
  server: ['options', 'state', 'tls', 'transport', 'protocol', 'logging', 'errors', 'text', 'util'],
  client: [
    'options',
    'solver',
    'tls',
    'transport',
    'protocol',
    'logging',
    'errors',
    'text',
    'util',
  ],
  bench: ['server', 'solver', 'protocol', 'errors'],
  '.': [
    'server',
    'client',
    'solver',
    'pki',
    'tls',
    'transport',
    'protocol',
    'options',
    'logging',
    'errors',
  ],
  cli: [], // the top: every folder (filled in below)
};

LAYERS.cli = Object.keys(LAYERS).filter((folder) => folder !== 'cli');

// The table itself must be a DAG, or the rules below would allow a cycle between folders.
(function assertAcyclic() {
  /** @type {Map<string, 'open' | 'done'>} */
  const seen = new Map();
  /** @param {string} name @param {string[]} path */
  const visit = (name, path) => {
    if (seen.get(name) === 'done') return;
    if (seen.get(name) === 'open')
      throw new Error(`.dependency-cruiser.cjs: LAYERS cycle ${[...path, name].join(' -> ')}`);
    seen.set(name, 'open');
    for (const next of LAYERS[name] ?? []) visit(next, [...path, name]);
    seen.set(name, 'done');
  };
  for (const name of Object.keys(LAYERS)) visit(name, []);
})();

/** @type {Record<string, string>} */
const PATHS = {
  '.': '^src/[^/]+$',
  'options/kinds': '^src/options/(core|kinds|docs)\\.ts$',
  options: '^src/options/(?!(core|kinds|docs)\\.ts$)',
};
/** @param {string} folder */
const pathOf = (folder) => PATHS[folder] ?? `^src/${folder}/`;
/** @param {string[]} folders (whoever may import the tables may import their machinery) */
const anyOf = (folders) =>
  [...folders, ...(folders.includes('options') ? ['options/kinds'] : [])].map(pathOf).join('|');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle, type-only imports included: move the shared part down a layer.',
      from: {},
      to: { circular: true },
    },
    ...Object.entries(LAYERS).map(([folder, allowed]) => ({
      name: `layer-${folder === '.' ? 'root' : folder.replace('/', '-')}`,
      severity: /** @type {const} */ ('error'),
      comment: `src/${folder === '.' ? '' : `${folder}/`} imports only ${allowed.length ? allowed.join(', ') : 'itself'} (docs/guide.md, Architecture)`,
      from: { path: pathOf(folder) },
      to: { path: '^src/', pathNot: anyOf([folder, ...allowed]) },
    })),
    {
      name: 'library-no-file-sink',
      severity: 'error',
      comment:
        'The library logs through the logging core; the file sink (and createLogger, which wires it) loads only where a file is logged to: the CLI, or a caller of the logging barrel.',
      from: { path: '^src/', pathNot: '^src/(cli/|logging/|index\\.ts$)' },
      to: { path: '^src/logging/(index|create|file-sink)\\.ts$' },
    },
    {
      name: 'not-to-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
