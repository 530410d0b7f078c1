/**
 * The client's side of one session (docs/protocol.md §3) over a {@link LineChannel}: validates
 * every server line, solves WORK, answers body commands. Knows nothing of sockets.
 * @module
 */
import {
  ProtocolError,
  ServerFailError,
  SolverError,
  TlslpError,
  TransportError,
} from '../errors/index.js';
import { checksum, verifyWork } from '../protocol/hash.js';
import {
  DONE_REPLY,
  HELLO_REPLY,
  formatBodyReply,
  parseServerMessage,
  redactToken,
  type BodyCommand,
  type ServerMessage,
} from '../protocol/messages.js';
import type { LineChannel } from '../transport/channel.js';
// Only the reason texts: the module's other imports are ones the client loads anyway.
import { FAIL_REASONS } from '../protocol/fail-reasons.js';
import type { Profile } from './profile.js';
import type { WorkSolution, WorkSolver } from '../solver/adapters.js';

// The solver's side of the session lives with the solver; re-exported for existing imports.
export type { WorkSolution, WorkSolver };

/** Something the session did, for transcripts and progress displays. */
export type SessionEvent =
  | {
      /** A line arrived from the server. */
      type: 'recv';
      /** The line, without `\n`. */
      line: string;
    }
  | {
      /** A line was sent to the server. */
      type: 'send';
      /** The line, without `\n`. */
      line: string;
    }
  | {
      /** The solver started on WORK. */
      type: 'work-start';
      /** The difficulty asked for. */
      nBits: number;
    }
  | {
      /** The solver found (and the session verified) a suffix. */
      type: 'work-done';
      /** What the solver reported. */
      solution: WorkSolution;
    };

/**
 * The FAILs a server sends right after the handshake, before HELLO, to refuse a certificate,
 * and the code the client rejects each with (docs/errors.md). Any other FAIL is a
 * ServerFailError (`TLSLP_ERR_SERVER_FAIL`).
 */
export const REFUSAL_CODES = {
  [FAIL_REASONS.notAuthorized]: 'TLSLP_ERR_NOT_AUTHORIZED',
  [FAIL_REASONS.maxPerIdentity]: 'TLSLP_ERR_MAX_PER_IDENTITY',
  [FAIL_REASONS.certRevoked]: 'TLSLP_ERR_CERT_REFUSED',
  [FAIL_REASONS.chainTooDeep]: 'TLSLP_ERR_CERT_REFUSED',
  [FAIL_REASONS.weakKey]: 'TLSLP_ERR_CERT_REFUSED',
  [FAIL_REASONS.revocationUnknown]: 'TLSLP_ERR_CERT_REFUSED',
  [FAIL_REASONS.certRefused]: 'TLSLP_ERR_CERT_REFUSED',
} as const;

const refusalCode = (reason: string) =>
  Object.hasOwn(REFUSAL_CODES, reason)
    ? REFUSAL_CODES[reason as keyof typeof REFUSAL_CODES]
    : undefined;

/** Options of {@link runClientSession}. */
export interface ClientSessionOptions {
  /** Answers to the body commands. */
  profile: Profile;
  /** Solves WORK. */
  solve: WorkSolver;
  /** Time allowed to solve WORK; the solver is aborted after it. */
  workTimeoutMs: number;
  /** Time allowed for every other server line. */
  otherTimeoutMs: number;
  /**
   * Most body requests answered; one more is a protocol error (default unlimited here;
   * {@link runClient} sets 100). A server asking without end would otherwise hold the
   * client, and have it send the profile, forever.
   */
  maxRequests?: number;
  /** Stops the session and the solver. */
  signal?: AbortSignal;
  /** Who our certificate names (`"client" (fp 3f9a0c41d2b7e865)`), for a refusal's message. */
  identity?: string;
  /** Called for every line sent and received and at the start and end of WORK. */
  onEvent?: (event: SessionEvent) => void;
  /** Where the session says what it does (a logger's info/debug). */
  log?: {
    /** A step of the session. */
    info(msg: string): void;
    /** Details. */
    debug(msg: string): void;
  };
}

/** A session that ended with DONE/OK. */
export interface ClientSessionResult {
  /** Body commands answered. */
  answered: BodyCommand[];
  /** How WORK was solved. */
  work: WorkSolution;
  /** The WORK difficulty the server asked for. */
  nBits: number;
}

const quiet = { info: () => {}, debug: () => {} };

/**
 * Run the client's side of one session.
 * @throws ServerFailError when the server sends FAIL; ProtocolError when it breaks the
 * contract; TransportError on timeouts and closed connections; SolverError when WORK
 * cannot be solved in time.
 */
export async function runClientSession(
  channel: LineChannel,
  options: ClientSessionOptions,
): Promise<ClientSessionResult> {
  const log = options.log ?? quiet;
  const emit = options.onEvent ?? (() => {});
  // Before HELLO a FAIL can only be the gate refusing our certificate.
  let greeted = false;
  // Past WORK, a FAIL whose reason is one random word is the protocol's drawn FAIL.
  let inBody = false;
  const read = async (timeoutMs: number, signal = options.signal): Promise<ServerMessage> => {
    const line = await channel.readLine(timeoutMs, signal);
    emit({ type: 'recv', line });
    const message = parseServerMessage(line);
    log.debug(
      `Received: ${message.type === 'WORK' ? `WORK ${redactToken(message.token)} ${message.nBits}` : line}`,
    );
    if (message.type === 'FAIL') {
      const refused = greeted ? undefined : refusalCode(message.reason);
      if (refused)
        throw new TransportError(refused, {
          identity: options.identity ?? '(ours)',
          reason: message.reason,
        });
      throw new ServerFailError(message.reason, {
        simulated: inBody && /^[A-Za-z0-9_-]{1,128}$/.test(message.reason),
      });
    }
    return message;
  };
  // Every line sent, at DEBUG only: body replies carry the profile's personal values.
  const send = (line: string): void => {
    channel.writeLine(line);
    emit({ type: 'send', line });
    log.debug(`Sent: ${line}`);
  };
  const unexpected = (got: ServerMessage, wanted: string): ProtocolError =>
    new ProtocolError('TLSLP_ERR_UNEXPECTED_MESSAGE', {
      wanted,
      got: got.type === 'BODY' ? got.command : got.type,
    });

  let hello: ServerMessage;
  try {
    hello = await read(options.otherTimeoutMs);
  } catch (err) {
    // A tlslp server ends a chain OpenSSL cannot verify this way: no alert, no line.
    if (
      options.identity !== undefined &&
      err instanceof TransportError &&
      (err.code === 'TLSLP_ERR_CLOSED' || err.code === 'TLSLP_ERR_CONNECTION_RESET')
    )
      throw new TransportError(
        'TLSLP_ERR_CLOSED_BEFORE_HELLO',
        { identity: options.identity },
        { cause: err },
      );
    throw err;
  }
  greeted = true;
  if (hello.type !== 'HELLO') throw unexpected(hello, 'HELLO');
  log.info('Received HELLO');
  send(HELLO_REPLY);

  const work = await read(options.otherTimeoutMs);
  if (work.type !== 'WORK') throw unexpected(work, 'WORK');
  log.info(`Received WORK with n_bits ${work.nBits}`);
  emit({ type: 'work-start', nBits: work.nBits });
  const solution = await solveWatching(channel, options, work.token, work.nBits, read);
  // Never send a wrong answer, whoever computed it.
  if (!verifyWork(work.token, solution.suffix, work.nBits)) {
    throw new SolverError('TLSLP_ERR_WRONG_SUFFIX', { solver: solution.solver });
  }
  emit({ type: 'work-done', solution });
  send(solution.suffix);
  inBody = true;

  const answered: BodyCommand[] = [];
  for (;;) {
    const message = await read(options.otherTimeoutMs);
    if (message.type === 'DONE') {
      log.info('Received DONE');
      send(DONE_REPLY);
      channel.end();
      return { answered, work: solution, nBits: work.nBits };
    }
    if (message.type !== 'BODY') throw unexpected(message, 'a body command or DONE');
    if (options.maxRequests !== undefined && answered.length >= options.maxRequests) {
      throw new ProtocolError('TLSLP_ERR_TOO_MANY_REQUESTS', { max: options.maxRequests });
    }
    send(formatBodyReply(checksum(work.token, message.arg), options.profile[message.command]));
    answered.push(message.command);
    log.info(`Answered ${message.command}`);
  }
}

/**
 * Solve WORK while watching the connection: the server may give up first (its own WORK
 * deadline sends `FAIL`; a restart closes the socket). The solver is stopped the moment that
 * happens, so no core keeps burning on a challenge nobody will check.
 */
async function solveWatching(
  channel: LineChannel,
  options: ClientSessionOptions,
  token: string,
  nBits: number,
  read: (timeoutMs: number, signal?: AbortSignal) => Promise<ServerMessage>,
): Promise<WorkSolution> {
  const watch = new AbortController();
  const stop = new AbortController();
  // Longer than the solve's own deadline: the watch ends when the solve does.
  const watching = read(options.workTimeoutMs + 60_000, watch.signal).then(
    (message) => ({ message }),
    (error: unknown) => ({ error }),
  );
  const solving = solveWithin(options, token, nBits, stop.signal).then(
    (solution) => ({ solution }),
    (error: unknown) => ({ error }),
  );
  const first = await Promise.race([watching.then((w) => ({ watched: w })), solving]);
  if (!('watched' in first)) {
    watch.abort();
    const late = await watching;
    // A line that came in as the solve ended still counts: the server gave up first.
    if ('message' in late) throw serverGaveUp(late.message);
    if (!isAbort(late.error)) throw closedDuringWork(late.error);
    if ('error' in first) throw first.error;
    return first.solution;
  }
  stop.abort();
  await solving;
  const w = first.watched;
  if ('message' in w) throw serverGaveUp(w.message);
  // ServerFailError (FAIL during WORK) and protocol errors come through read() as they are.
  if (w.error instanceof ServerFailError || w.error instanceof ProtocolError) throw w.error;
  if (options.signal?.aborted) throw new SolverError('TLSLP_ERR_SOLVE_ABORTED', { signal: true });
  throw closedDuringWork(w.error);
}

function isAbort(err: unknown): boolean {
  return err instanceof TransportError && err.code === 'TLSLP_ERR_ABORTED';
}

function serverGaveUp(message: ServerMessage): ProtocolError {
  return new ProtocolError('TLSLP_ERR_MESSAGE_DURING_WORK', {
    got: message.type === 'BODY' ? message.command : message.type,
  });
}

function closedDuringWork(err: unknown): TlslpError {
  if (err instanceof ServerFailError || err instanceof ProtocolError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new TransportError('TLSLP_ERR_CLOSED_DURING_WORK', { reason }, { cause: err });
}

async function solveWithin(
  options: ClientSessionOptions,
  token: string,
  nBits: number,
  stop: AbortSignal,
): Promise<WorkSolution> {
  const controller = new AbortController();
  const onStop = (): void =>
    controller.abort(new SolverError('TLSLP_ERR_SOLVE_ABORTED', { serverGaveUp: true }));
  stop.addEventListener('abort', onStop, { once: true });
  const timer = setTimeout(
    () =>
      controller.abort(
        new SolverError('TLSLP_ERR_WORK_TIMEOUT', { seconds: options.workTimeoutMs / 1000 }),
      ),
    options.workTimeoutMs,
  );
  const onAbort = (): void =>
    controller.abort(new SolverError('TLSLP_ERR_SOLVE_ABORTED', { signal: true }));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    return await options.solve(token, nBits, controller.signal);
  } catch (err) {
    if (controller.signal.aborted && !options.signal?.aborted && !stop.aborted) {
      throw new SolverError(
        'TLSLP_ERR_WORK_TIMEOUT',
        { seconds: options.workTimeoutMs / 1000 },
        { cause: err },
      );
    }
    if (err instanceof TlslpError) throw err;
    // A caller's own solver may throw anything: it still reaches the caller typed.
    throw new SolverError(
      'TLSLP_ERR_SOLVER_FAILED',
      { reason: err instanceof Error ? err.message : String(err) },
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    stop.removeEventListener('abort', onStop);
  }
}
