#!/usr/bin/env node
// @ts-check
/**
 * The attackers of the attack harness, in their own process (so their CPU is not the good
 * clients'). Not meant to be run by hand: bench/attack.mjs forks it and drives it over IPC.
 *
 *   parent → child  {type:'start', kind, port, params}
 *   child  → parent {type:'started'}
 *   parent → child  {type:'stop'}
 *   child  → parent {type:'stopped', counts}
 *
 * Every kind runs from its own loopback source address(es) and stops on 'stop'; nothing is
 * sent beyond 127.0.0.0/8. `counts`: attempts, secured (TLS handshake completed on the
 * client's side), served (got a first line from the server), closed, errors, and per-kind
 * extras (renegotiated, openPeak; for HTTP: responses, tooMany (429s); for signals: signals).
 */
import net from 'node:net';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';

if (!process.send) {
  process.stderr.write('bench/attack-child.mjs is started by bench/attack.mjs (fork + IPC)\n');
  process.exit(2);
}

let stopping = false;
const counts = {
  attempts: 0,
  secured: 0,
  served: 0,
  closed: 0,
  errors: 0,
  renegotiated: 0,
  openPeak: 0,
  responses: 0,
  tooMany: 0,
  signals: 0,
};
const open = new Set();
const loops = [];

/**
 * One TLS connection: resolves once the server closes it (or after `maxMs`).
 * @param {{ port: number, source: string, tlsOptions: import('node:tls').ConnectionOptions,
 *   onSecure?: (socket: import('node:tls').TLSSocket) => void, maxMs?: number }} attempt
 */
function tlsAttempt({ port, source, tlsOptions, onSecure, maxMs = 15_000 }) {
  counts.attempts++;
  return new Promise((resolve) => {
    // localAddress reaches net.connect; @types/node leaves it out of tls.ConnectionOptions.
    const socket = tls.connect(
      /** @type {tls.ConnectionOptions} */ ({
        host: '127.0.0.1',
        port,
        localAddress: source,
        servername: 'localhost',
        rejectUnauthorized: false,
        ...tlsOptions,
      }),
    );
    open.add(socket);
    const timer = setTimeout(() => socket.destroy(), maxMs);
    let first = true;
    socket.on('secureConnect', () => {
      counts.secured++;
      onSecure?.(socket);
    });
    socket.on('data', () => {
      if (first) counts.served++;
      first = false;
    });
    socket.on('error', () => counts.errors++);
    socket.on('close', () => {
      counts.closed++;
      clearTimeout(timer);
      open.delete(socket);
      resolve(undefined);
    });
  });
}

/** `concurrency` loops per source, each connecting again as soon as its last attempt ended. */
function loopEach(sources, concurrency, attempt) {
  for (const source of sources)
    for (let i = 0; i < concurrency; i++)
      loops.push(
        (async () => {
          while (!stopping) await attempt(source);
        })(),
      );
}

/** @type {Record<string, (port: number, params: any) => void>} */
const kinds = {
  /** Present a crafted chain (params.cert, params.key) in a loop. */
  'crafted-chain'(port, p) {
    loopEach(p.sources, p.concurrency ?? 1, (source) =>
      tlsAttempt({ port, source, tlsOptions: { cert: p.cert, key: p.key } }),
    );
  },
  /** No client certificate, in a loop. */
  'no-cert'(port, p) {
    loopEach(p.sources, p.concurrency ?? 4, (source) =>
      tlsAttempt({ port, source, tlsOptions: {} }),
    );
  },
  /** A client certificate from the server's CA with a weak key, in a loop. */
  'weak-key'(port, p) {
    loopEach(p.sources, p.concurrency ?? 2, (source) =>
      tlsAttempt({ port, source, tlsOptions: { cert: p.cert, key: p.key, ca: p.ca } }),
    );
  },
  /** A good certificate over TLS 1.2, asking for renegotiation again and again. */
  renegotiation(port, p) {
    loopEach(p.sources, p.concurrency ?? 2, (source) =>
      tlsAttempt({
        port,
        source,
        maxMs: 3000,
        tlsOptions: { cert: p.cert, key: p.key, ca: p.ca, maxVersion: 'TLSv1.2' },
        onSecure: (socket) => {
          const again = () => {
            if (stopping || socket.destroyed) return;
            socket.renegotiate({ rejectUnauthorized: false }, (err) => {
              if (err) return socket.destroy();
              counts.renegotiated++;
              again();
            });
          };
          again();
        },
      }),
    );
  },
  /**
   * Plain TCP sockets that never send a byte, up to params.sockets open at once; each one the
   * server closes is opened again after params.reconnectMs.
   */
  'slot-flood'(port, p) {
    const source = p.sources[0];
    const one = async () => {
      while (!stopping) {
        counts.attempts++;
        await new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port, localAddress: source });
          open.add(s);
          counts.openPeak = Math.max(counts.openPeak, open.size);
          s.on('error', () => counts.errors++);
          s.on('close', () => {
            counts.closed++;
            open.delete(s);
            resolve(undefined);
          });
        });
        if (!stopping) await sleep(p.reconnectMs ?? 10_000);
      }
    };
    // Opened in batches, so the flood builds up over about a second.
    loops.push(
      (async () => {
        for (let i = 0; i < p.sockets && !stopping; i++) {
          loops.push(one());
          if (i % 200 === 199) await sleep(20);
        }
      })(),
    );
  },
  /**
   * params.connections keep-alive HTTP connections, each pipelining `GET params.path` (16
   * requests in flight), reconnecting when the server closes it (as after a 429).
   */
  'http-pipeline'(port, p) {
    const request = Buffer.from(`GET ${p.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const burst = Buffer.concat(Array.from({ length: 16 }, () => request));
    const one = async (source) => {
      while (!stopping) {
        counts.attempts++;
        await new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port, localAddress: source });
          open.add(s);
          let tail = '';
          s.on('connect', () => s.write(burst));
          s.on('data', (d) => {
            // Count status lines; send 16 more for every 16 answered.
            const text = tail + d.toString('latin1');
            const answered = text.split('HTTP/1.1 ').length - 1;
            counts.tooMany += text.split('HTTP/1.1 429').length - 1;
            // Shorter than a status line, so none is counted twice.
            tail = text.slice(-8);
            counts.responses += answered;
            if (answered > 0 && !stopping) s.write(Buffer.concat(Array(answered).fill(request)));
          });
          s.on('error', () => counts.errors++);
          s.on('close', () => {
            counts.closed++;
            open.delete(s);
            resolve(undefined);
          });
        });
        if (!stopping) await sleep(10);
      }
    };
    for (const source of p.sources) for (let i = 0; i < p.connections; i++) loops.push(one(source));
  },
  /** SIGHUP to process params.pid, params.perSecond times a second. */
  signal(_port, p) {
    loops.push(
      (async () => {
        const every = 1000 / p.perSecond;
        let next = performance.now();
        while (!stopping) {
          try {
            process.kill(p.pid, 'SIGHUP');
            counts.signals++;
          } catch {
            counts.errors++;
          }
          next += every;
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          else next = performance.now();
        }
      })(),
    );
  },
  /**
   * A certificate holder that connects params.perSecond times a second and drops each
   * connection as soon as WORK arrives (zero hashes).
   */
  pump(port, p) {
    const source = p.sources[0];
    const every = 1000 / p.perSecond;
    loops.push(
      (async () => {
        let next = performance.now();
        while (!stopping) {
          if (open.size < (p.maxOpen ?? 64))
            void tlsAttempt({
              port,
              source,
              maxMs: 5000,
              tlsOptions: { cert: p.cert, key: p.key, ca: p.ca },
              onSecure: (socket) => {
                let buf = '';
                socket.on('data', (d) => {
                  buf += d.toString();
                  if (buf.startsWith('HELLO\n') && !buf.includes('WORK'))
                    socket.write('HELLOBACK\n');
                  if (buf.includes('WORK ')) socket.destroy();
                });
              },
            });
          next += every;
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          else next = performance.now();
        }
      })(),
    );
  },
};

process.on('message', (/** @type {any} */ msg) => {
  if (msg?.type === 'start') {
    const run = kinds[msg.kind];
    if (!run) throw new Error(`attack-child: unknown kind ${msg.kind}`);
    run(msg.port, msg.params);
    process.send?.({ type: 'started' });
  } else if (msg?.type === 'stop') {
    stopping = true;
    for (const s of open) s.destroy();
    void Promise.race([Promise.allSettled(loops), sleep(3000)]).then(() => {
      for (const s of open) s.destroy();
      process.send?.({ type: 'stopped', counts }, () => process.exit(0));
    });
  }
});
process.on('disconnect', () => process.exit(0));
