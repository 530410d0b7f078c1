/**
 * Fleet state between the workers of one machine and their primary (`--workers N` without
 * `--state`): a worker's store calls cross the cluster IPC channel to the primary's
 * {@link MemoryStore}; blocked IPs are broadcast back to every worker.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type {
  AcquireReply,
  AcquireRequest,
  FleetLoad,
  Lease,
  LoadReport,
  SpendRequest,
  StoreBackend,
} from './backend.js';
import { MemoryStore } from './memory.js';
import { TransportError } from '../errors/index.js';

type Op =
  | { op: 'spend'; args: SpendRequest }
  | { op: 'acquire'; args: AcquireRequest }
  | { op: 'release'; args: Lease }
  | { op: 'renew'; args: { leases: readonly Lease[]; ttlMs: number } }
  | { op: 'report'; args: LoadReport };

interface StateCall {
  tlslpState: { id: number } & Op;
}
interface StateReply {
  tlslpStateReply: { id: number; result?: unknown; error?: string };
}
interface BlockedNotice {
  tlslpStateBlocked: { ip: string; ms: number };
}

function unavailable(reason: string): TransportError {
  return new TransportError('TLSLP_ERR_STATE_UNAVAILABLE', {
    store: 'the cluster primary',
    reason,
  });
}

function has<K extends string>(m: unknown, key: K): m is Record<K, Record<string, unknown>> {
  return typeof m === 'object' && m !== null && key in m;
}

/** A {@link FleetLoad} as it crosses IPC (a Map does not survive JSON). */
type WireLoad = Omit<FleetLoad, 'identities'> & {
  identities: Array<[string, { inFlight: number; arrivals: number }]>;
};

/** In a worker: the primary as the store. */
export class PrimaryStore implements StoreBackend {
  readonly label = 'the cluster primary';
  private next = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly blockedListeners: Array<(ip: string, ms: number) => void> = [];
  private readonly onMessage = (m: unknown): void => {
    if (has(m, 'tlslpStateReply')) {
      const r = (m as unknown as StateReply).tlslpStateReply;
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      clearTimeout(w.timer);
      if (r.error !== undefined) w.reject(unavailable(r.error));
      else w.resolve(r.result);
    } else if (has(m, 'tlslpStateBlocked')) {
      const { ip, ms } = (m as unknown as BlockedNotice).tlslpStateBlocked;
      for (const l of this.blockedListeners) l(ip, ms);
    }
  };

  start(): Promise<void> {
    process.on('message', this.onMessage);
    return Promise.resolve();
  }

  private call<T>(op: Op): Promise<T> {
    if (!process.send || !process.connected) return Promise.reject(unavailable('no IPC channel'));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      // The caller's deadline decides; a reply that never comes must not leak its entry.
      const timer = setTimeout(() => {
        if (this.waiting.delete(id)) reject(unavailable('no answer'));
      }, 5000).unref();
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      process.send?.(
        { tlslpState: { id, ...op } } satisfies StateCall,
        undefined,
        undefined,
        (err) => {
          if (!err) return;
          clearTimeout(timer);
          this.waiting.delete(id);
          reject(err);
        },
      );
    });
  }

  spend(args: SpendRequest): Promise<number> {
    return this.call({ op: 'spend', args });
  }
  acquire(args: AcquireRequest): Promise<AcquireReply> {
    return this.call({ op: 'acquire', args });
  }
  release(args: Lease): Promise<void> {
    return this.call({ op: 'release', args });
  }
  renew(leases: readonly Lease[], ttlMs: number): Promise<void> {
    return this.call({ op: 'renew', args: { leases, ttlMs } });
  }
  async report(args: LoadReport): Promise<FleetLoad> {
    const wire = await this.call<WireLoad>({ op: 'report', args });
    return { ...wire, identities: new Map(wire.identities) };
  }
  onBlocked(listener: (ip: string, ms: number) => void): void {
    this.blockedListeners.push(listener);
  }
  close(): Promise<void> {
    process.off('message', this.onMessage);
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(unavailable('closed'));
    }
    this.waiting.clear();
    return Promise.resolve();
  }
}

/** In the primary: the workers' store. */
export class WorkerStateHost {
  private readonly store = new MemoryStore();

  /** Answer `message` from `worker` when it is a store call; true when it was one. */
  onMessage(worker: Worker, message: unknown): boolean {
    if (!has(message, 'tlslpState')) return false;
    const call = (message as unknown as StateCall).tlslpState;
    const owner = `w${worker.id}`;
    let result: unknown;
    try {
      result = this.run(call, owner);
    } catch (err) {
      this.send(worker, { tlslpStateReply: { id: call.id, error: (err as Error).message } });
      return true;
    }
    this.send(worker, { tlslpStateReply: { id: call.id, result } });
    if (call.op === 'spend' && typeof result === 'number' && result > 0) {
      const notice: BlockedNotice = { tlslpStateBlocked: { ip: call.args.ip, ms: result } };
      for (const w of Object.values(cluster.workers ?? {}))
        if (w && w !== worker) this.send(w, notice);
    }
    return true;
  }

  private run(call: StateCall['tlslpState'], owner: string): unknown {
    const s = this.store;
    switch (call.op) {
      case 'spend':
        return s.spend(call.args);
      case 'acquire':
        return s.acquire(call.args, owner);
      case 'release':
        return s.release(call.args);
      case 'renew':
        return s.renew(call.args.leases, call.args.ttlMs, owner);
      case 'report': {
        const load = s.report(call.args, owner);
        return { ...load, identities: [...load.identities] } satisfies WireLoad;
      }
    }
  }

  private send(worker: Worker, message: StateReply | BlockedNotice): void {
    if (!worker.isConnected()) return;
    worker.send(message, undefined, () => {
      /* a worker that just died is restarted and asks again */
    });
  }

  /** A worker exited: its sessions are gone, so are its leases. */
  retire(worker: Worker): void {
    this.store.dropOwner(`w${worker.id}`);
  }
}
