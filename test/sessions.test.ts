import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, makeProfile } from '../src/client/profile.js';
import { runClientSession, type WorkSolver } from '../src/client/session.js';
import { ConfigError, ProtocolError, ServerFailError, SolverError } from '../src/errors/index.js';
import { checksum, verifyWork } from '../src/protocol/hash.js';
import { BODY_COMMANDS } from '../src/protocol/messages.js';
import { FAIL_REASONS, runServerSession, type SessionPlan } from '../src/server/session.js';
import { SocketLineChannel } from '../src/transport/channel.js';
import { T } from './fixtures/vectors.js';

/** Two duplex streams wired to each other, as a socket pair. */
function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

function channels(): [SocketLineChannel, SocketLineChannel] {
  const [a, b] = duplexPair();
  return [new SocketLineChannel(a), new SocketLineChannel(b)];
}

/** A slow but obviously correct solver for tests of the session logic. */
const bruteForce: WorkSolver = async (token, nBits) => {
  for (let i = 0; ; i++) {
    const suffix = i.toString(36);
    if (verifyWork(token, suffix, nBits)) return { suffix, seconds: 0, solver: 'test' };
  }
};

const silent = { info: () => {}, debug: () => {}, warning: () => {} };

function plan(overrides: Partial<SessionPlan> = {}): SessionPlan {
  return {
    token: T,
    nBits: 8,
    bodyRequests: BODY_COMMANDS.length,
    nextCommand: (i) => BODY_COMMANDS[i] as (typeof BODY_COMMANDS)[number],
    nextArg: () => 'LGTk',
    workTimeoutMs: 5000,
    otherTimeoutMs: 2000,
    ...overrides,
  };
}

describe('a whole session between the two session drivers', () => {
  it('ends in DONE/OK and sends exactly the protocol lines', async () => {
    const [s, c] = channels();
    const sent: string[] = [];
    const received: string[] = [];
    const [server, client] = await Promise.all([
      runServerSession(s, plan(), silent),
      runClientSession(c, {
        profile: DEFAULT_PROFILE,
        solve: bruteForce,
        workTimeoutMs: 5000,
        otherTimeoutMs: 2000,
        onEvent: (e) => {
          if (e.type === 'send') sent.push(e.line);
          if (e.type === 'recv') received.push(e.line);
        },
      }),
    ]);
    expect(server).toEqual({ outcome: 'done' });
    expect(client.answered).toEqual([...BODY_COMMANDS]);
    expect(received[0]).toBe('HELLO');
    expect(received[1]).toBe(`WORK ${T} 8`);
    expect(received.slice(2, 10)).toEqual(BODY_COMMANDS.map((cmd) => `${cmd} LGTk`));
    expect(received[10]).toBe('DONE');
    expect(sent[0]).toBe('HELLOBACK');
    expect(verifyWork(T, sent[1] as string, 8)).toBe(true);
    expect(sent[3]).toBe(`${checksum(T, 'LGTk')} ${DEFAULT_PROFILE.EMAIL1}`);
    expect(sent.at(-1)).toBe('OK');
  });

  it('a drawn FAIL reaches the client as ServerFailError', async () => {
    const [s, c] = channels();
    const [server, client] = await Promise.all([
      runServerSession(
        s,
        plan({ nextCommand: (i) => (i === 2 ? 'FAIL' : 'EMAIL1'), nextArg: () => 'xyz' }),
        silent,
      ),
      runClientSession(c, {
        profile: DEFAULT_PROFILE,
        solve: bruteForce,
        workTimeoutMs: 5000,
        otherTimeoutMs: 2000,
      }).catch((e: unknown) => e),
    ]);
    expect(server).toEqual({ outcome: 'fail-drawn', reason: 'xyz' });
    expect(client).toBeInstanceOf(ServerFailError);
    expect((client as ServerFailError).reason).toBe('xyz');
  });

  it('uses the values of a given profile', async () => {
    const [s, c] = channels();
    const profile = makeProfile({ EMAIL1: 'someone@example.net' });
    const sent: string[] = [];
    await Promise.all([
      runServerSession(s, plan({ bodyRequests: 2, nextCommand: () => 'EMAIL1' }), silent),
      runClientSession(c, {
        profile,
        solve: bruteForce,
        workTimeoutMs: 5000,
        otherTimeoutMs: 2000,
        onEvent: (e) => e.type === 'send' && sent.push(e.line),
      }),
    ]);
    expect(sent[2]).toMatch(/ someone@example\.net$/);
  });
});

/** Play the client by hand against the server session. */
async function serverAgainst(script: (ch: SocketLineChannel) => Promise<void>, p = plan()) {
  const [s, c] = channels();
  const lines: string[] = [];
  const [outcome] = await Promise.all([
    runServerSession(s, p, silent),
    script(c)
      .then(async () => {
        for (;;) lines.push(await c.readLine(500));
      })
      .catch(() => {}),
  ]);
  return { outcome, lines };
}

describe('server session: strict checks', () => {
  it('wrong HELLOBACK gets FAIL', async () => {
    const { outcome, lines } = await serverAgainst(async (c) => {
      await c.readLine(1000);
      c.writeLine('HELLOBACK ');
    });
    expect(outcome).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_BAD_HELLO' });
    expect(lines).toEqual([`FAIL ${FAIL_REASONS.badHello}`]);
  });

  it('a suffix that does not solve WORK gets the original reason', async () => {
    const { outcome, lines } = await serverAgainst(
      async (c) => {
        await c.readLine(1000);
        c.writeLine('HELLOBACK');
        await c.readLine(1000);
        c.writeLine('TlVR'); // 2 zero bits only
      },
      plan({ nBits: 28 }),
    );
    expect(outcome).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_BAD_SUFFIX' });
    expect(lines).toEqual(['FAIL Invalid suffix returned from client.']);
  });

  it('accepts the vector suffix for WORK T 28 and then checks checksums', async () => {
    const { outcome, lines } = await serverAgainst(
      async (c) => {
        await c.readLine(1000);
        c.writeLine('HELLOBACK');
        await c.readLine(1000);
        c.writeLine('TlVR_');
        await c.readLine(1000);
        c.writeLine(`${'0'.repeat(64)} Jane Doe`);
      },
      plan({ nBits: 28 }),
    );
    expect(outcome).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_BAD_CHECKSUM' });
    expect(lines).toEqual(['FAIL Invalid checksum received.']);
  });

  it('refuses suffixes outside the charset even if they hash well', async () => {
    const { outcome } = await serverAgainst(
      async (c) => {
        await c.readLine(1000);
        c.writeLine('HELLOBACK');
        await c.readLine(1000);
        c.writeLine('a b');
      },
      plan({ nBits: 0 }),
    );
    expect(outcome).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_BAD_SUFFIX' });
  });

  it('wrong OK gets FAIL', async () => {
    const { outcome, lines } = await serverAgainst(
      async (c) => {
        await c.readLine(1000);
        c.writeLine('HELLOBACK');
        await c.readLine(1000);
        c.writeLine('TlVR_');
        await c.readLine(1000);
        c.writeLine('ok');
      },
      plan({ nBits: 28, bodyRequests: 0 }),
    );
    expect(outcome).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_BAD_OK' });
    expect(lines).toEqual([`FAIL ${FAIL_REASONS.badOk}`]);
  });

  it('an overlong line and invalid UTF-8 each get their FAIL', async () => {
    const long = await serverAgainst(async (c) => {
      await c.readLine(1000);
      c.writeLine('x'.repeat(999)); // 1000 bytes: allowed by framing, wrong as an answer
    });
    expect(long.outcome).toMatchObject({ code: 'TLSLP_ERR_BAD_HELLO' });

    const [s, c] = channels();
    const raw = (c as unknown as { socket: Duplex }).socket;
    const result = runServerSession(s, plan(), silent);
    await c.readLine(1000);
    raw.write(Buffer.alloc(1001, 0x61));
    expect(await c.readLine(1000)).toBe(`FAIL ${FAIL_REASONS.lineTooLong}`);
    expect(await result).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_LINE_TOO_LONG' });

    const [s2, c2] = channels();
    const raw2 = (c2 as unknown as { socket: Duplex }).socket;
    const result2 = runServerSession(s2, plan(), silent);
    await c2.readLine(1000);
    raw2.write(Buffer.from([0xff, 0xfe, 0x0a]));
    expect(await c2.readLine(1000)).toBe(`FAIL ${FAIL_REASONS.invalidUtf8}`);
    expect(await result2).toMatchObject({ outcome: 'rejected', code: 'TLSLP_ERR_INVALID_UTF8' });
  });

  it('a silent client times out with a FAIL', async () => {
    const { outcome, lines } = await serverAgainst(
      async (c) => {
        await c.readLine(1000);
      },
      plan({ otherTimeoutMs: 200 }),
    );
    expect(outcome).toMatchObject({ outcome: 'transport', code: 'TLSLP_ERR_TIMEOUT' });
    expect(lines).toEqual([`FAIL ${FAIL_REASONS.timeout}`]);
  });
});

/** Play the server by hand against the client session. */
async function clientAgainst(
  lines: string[],
  options: { workTimeoutMs?: number; solve?: WorkSolver } = {},
) {
  const [s, c] = channels();
  for (const l of lines) s.writeLine(l);
  return runClientSession(c, {
    profile: DEFAULT_PROFILE,
    solve: options.solve ?? bruteForce,
    workTimeoutMs: options.workTimeoutMs ?? 5000,
    otherTimeoutMs: 300,
  }).catch((e: unknown) => e);
}

describe('client session: validates what the server sends', () => {
  it.each([
    [['HELLO', 'WORK bad$token 8'], 'TLSLP_ERR_BAD_WORK_TOKEN'],
    [['HELLO', 'WORK abc 65'], 'TLSLP_ERR_BAD_WORK_N_BITS'],
    [['HELLO', 'WORK abc -1'], 'TLSLP_ERR_BAD_WORK_N_BITS'],
    [['HELLO', 'EMAIL1 LGTk'], 'TLSLP_ERR_UNEXPECTED_MESSAGE'],
    [['WORK abc 1'], 'TLSLP_ERR_UNEXPECTED_MESSAGE'],
    [['HELLO', 'WORK abc 1', 'DELETE_ALL x'], 'TLSLP_ERR_UNKNOWN_COMMAND'],
    [['HELLO', 'WORK abc 1', 'HELLO'], 'TLSLP_ERR_MESSAGE_DURING_WORK'],
  ])('%j → %s', async (lines, code) => {
    const err = await clientAgainst(lines);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(code);
  });

  it('a FAIL at any step is reported with its reason', async () => {
    const err = await clientAgainst(['FAIL go away']);
    expect(err).toBeInstanceOf(ServerFailError);
    expect((err as ServerFailError).reason).toBe('go away');
  });

  it('a silent server times out', async () => {
    const err = await clientAgainst([]);
    expect(err).toMatchObject({ code: 'TLSLP_ERR_TIMEOUT' });
  });

  it('n_bits 0 works', async () => {
    const [s, c] = channels();
    const [server] = await Promise.all([
      runServerSession(s, plan({ nBits: 0 }), silent),
      runClientSession(c, {
        profile: DEFAULT_PROFILE,
        solve: bruteForce,
        workTimeoutMs: 5000,
        otherTimeoutMs: 2000,
      }),
    ]);
    expect(server).toEqual({ outcome: 'done' });
  });

  it("a solver's plain error reaches the caller as a SolverError with it as the cause", async () => {
    const boom = new Error('out of cheese');
    const broken: WorkSolver = () => Promise.reject(boom);
    const err = await clientAgainst(['HELLO', 'WORK abc 8'], { solve: broken });
    expect(err).toBeInstanceOf(SolverError);
    expect(err).toMatchObject({ code: 'TLSLP_ERR_SOLVER_FAILED', cause: boom });
    expect((err as SolverError).message).toBe('solver failed: out of cheese');
  });

  it('WORK that overruns the WORK timeout fails with a SolverError and the solver is told to stop', async () => {
    let stopped = false;
    const slow: WorkSolver = (_t, _n, signal) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          stopped = true;
          reject(new SolverError('TLSLP_ERR_SOLVE_ABORTED', { reason: 'stopped' }));
        }),
      );
    const err = await clientAgainst(['HELLO', 'WORK abc 60'], { solve: slow, workTimeoutMs: 200 });
    expect(err).toBeInstanceOf(SolverError);
    expect((err as SolverError).code).toBe('TLSLP_ERR_WORK_TIMEOUT');
    expect(stopped).toBe(true);
  });

  it('never sends a suffix that does not solve WORK', async () => {
    const wrong: WorkSolver = async () => ({ suffix: 'AAAA', seconds: 0, solver: 'liar' });
    const err = await clientAgainst(['HELLO', 'WORK abc 30'], { solve: wrong });
    expect(err).toMatchObject({ code: 'TLSLP_ERR_WRONG_SUFFIX' });
  });
});

describe('profiles', () => {
  it('refuses unknown fields and line breaks', () => {
    expect(() => makeProfile({ NAME: 'x' })).toThrow(ConfigError);
    expect(() => makeProfile({ EMAIL1: 'a\nb' })).toThrow(/line break/);
    expect(() => makeProfile({ EMAIL1: 5 })).toThrow(/string/);
    expect(makeProfile({}).FULL_NAME).toBe('Jane Doe');
  });
});
