/**
 * contrib/: the Prometheus alert rules and the Grafana dashboard use only metrics (and reason
 * labels) the server exports; the systemd unit uses only flags tlslp-server has.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_FAILURE_REASONS, SESSION_FAILURE_REASONS } from '../src/errors/reasons.js';
import { SERVER_OPTIONS } from '../src/options/server.js';
import { ServerMetrics } from '../src/server/metrics.js';

const root = join(import.meta.dirname, '..');
const contrib = (path: string): Promise<string> => readFile(join(root, 'contrib', path), 'utf8');

/** The metric names a `/metrics` scrape of the server can show (histograms with their series). */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new ServerMetrics({ defaultMetrics: true }).registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

/** The PromQL expressions of the alert rules (one line each) and of the dashboard's panels. */
async function queries(): Promise<Array<{ where: string; expr: string }>> {
  const rules = [...(await contrib('prometheus/tlslp-alerts.yml')).matchAll(/^\s+expr: (.+)$/gm)];
  const dashboard = JSON.parse(await contrib('grafana/tlslp-dashboard.json')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  return [
    ...rules.map((m) => ({ where: 'tlslp-alerts.yml', expr: m[1] as string })),
    ...dashboard.panels.flatMap((p) =>
      p.targets.map((t) => ({ where: `dashboard: ${p.title}`, expr: t.expr })),
    ),
  ];
}

describe('contrib: alert rules and dashboard', () => {
  it('every tlslp_* metric a query uses is one the server exports', async () => {
    const names = await exported();
    const used = new Set<string>();
    for (const { where, expr } of await queries())
      for (const [name] of expr.matchAll(/\btlslp_[a-z0-9_]+/g)) {
        expect(names.has(name), `${where}: ${name} in ${expr}`).toBe(true);
        used.add(name);
      }
    // The rules and the dashboard cover the fleet state too.
    for (const name of ['tlslp_state_up', 'tlslp_state_fallbacks_total', 'tlslp_fleet_servers'])
      expect(used).toContain(name);
    expect(used.size).toBeGreaterThan(12);
  });

  it('every reason label a query matches is one the server counts', async () => {
    const reasons = new Set([
      ...Object.keys(HANDSHAKE_FAILURE_REASONS),
      ...Object.keys(SESSION_FAILURE_REASONS),
    ]);
    let seen = 0;
    for (const { where, expr } of await queries())
      for (const [, reason] of expr.matchAll(/reason!?="([^"]+)"/g)) {
        expect(reasons.has(reason as string), `${where}: reason ${reason}`).toBe(true);
        seen++;
      }
    expect(seen).toBeGreaterThan(0);
  });
});

describe('contrib: systemd unit', () => {
  it('Type=exec (no sd_notify), reload by SIGHUP, a --check before the start, hardened', async () => {
    const unit = await contrib('systemd/tlslp-server.service');
    const setting = (key: string): string[] =>
      [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
    expect(setting('Type')).toEqual(['exec']);
    expect(setting('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(setting('ExecStartPre')).toEqual(['/usr/local/bin/tlslp-server $TLSLP_FLAGS --check']);
    for (const key of ['NoNewPrivileges', 'ProtectSystem', 'PrivateTmp', 'ProtectHome'])
      expect(setting(key), key).toHaveLength(1);
    expect(setting('ProtectSystem')).toEqual(['strict']);
    // V8 needs writable-executable memory.
    expect(setting('MemoryDenyWriteExecute')).toEqual([]);
  });

  it('uses only flags tlslp-server has', async () => {
    const unit = await contrib('systemd/tlslp-server.service');
    const flags = new Set<string>(
      Object.values(SERVER_OPTIONS).flatMap((e) =>
        'flag' in e && e.flag ? [e.flag, ...('aliases' in e ? (e.aliases ?? []) : [])] : [],
      ),
    );
    const used = [...unit.matchAll(/^(?:Environment="TLSLP_FLAGS=|Exec\w*=)(.*)$/gm)].flatMap((m) =>
      (m[1] as string).split(/\s+/).filter((w) => w.startsWith('--')),
    );
    expect(used).toContain('--check');
    for (const flag of used) expect(flags.has(flag), flag).toBe(true);
  });
});
