/**
 * The client's side of one session (PROTOCOL §3) over a {@link LineChannel}: validates
 * every server line, solves WORK, answers body commands. Knows nothing of sockets.
 * @module
 */
import { ProtocolError, ServerFailError, SolverError } from '../errors.js';
import { checksum, verifyWork } from '../protocol/hash.js';
import {
  DONE_REPLY,
  HELLO_REPLY,
  formatBodyReply,
  parseServerMessage,
  type BodyCommand,
  type ServerMessage,
} from '../protocol/messages.js';
import type { LineChannel } from '../transport/channel.js';
import type { Profile } from './profile.js';

/** What a WORK solve reports. */
export interface WorkSolution {
  suffix: string;
  seconds: number;
  /** Candidates tried, when the solver knows. */
  hashes?: number;
  hashesPerSecond?: number;
  /** e.g. `native (sha-ni x3)` or `external: ./work_challenge`. */
  solver: string;
  threads?: number;
}

/** Solves one WORK challenge; must stop promptly when `signal` fires. */
export type WorkSolver = (token: string, nBits: number, signal: AbortSignal) => Promise<WorkSolution>;

/** Something the session did, for transcripts and progress displays. */
export type SessionEvent =
  | { type: 'recv'; line: string }
  | { type: 'send'; line: string }
  | { type: 'work-start'; nBits: number }
  | { type: 'work-done'; solution: WorkSolution };

/** Options of {@link runClientSession}. */
export interface ClientSessionOptions {
  profile: Profile;
  solve: WorkSolver;
  workTimeoutMs: number;
  otherTimeoutMs: number;
  signal?: AbortSignal;
  onEvent?: (event: SessionEvent) => void;
  /** Where the session says what it does (a logger's info/debug). */
  log?: { info(msg: string): void; debug(msg: string): void };
}

/** A session that ended with DONE/OK. */
export interface ClientSessionResult {
  /** Body commands answered. */
  answered: BodyCommand[];
  work: WorkSolution;
  nBits: number;
}

const quiet = { info: () => {}, debug: () => {} };

/**
 * Run the client's side of one session.
 * @throws ServerFailError when the server sends FAIL; ProtocolError when it breaks the
 * contract; TransportError on timeouts and closed connections; SolverError when WORK
 * cannot be solved in time.
 */
export async function runClientSession(channel: LineChannel, options: ClientSessionOptions): Promise<ClientSessionResult> {
  const log = options.log ?? quiet;
  const emit = options.onEvent ?? (() => {});
  const read = async (timeoutMs: number): Promise<ServerMessage> => {
    const line = await channel.readLine(timeoutMs, options.signal);
    emit({ type: 'recv', line });
    const message = parseServerMessage(line);
    if (message.type === 'FAIL') throw new ServerFailError(message.reason);
    return message;
  };
  const send = (line: string): void => {
    channel.writeLine(line);
    emit({ type: 'send', line });
  };
  const unexpected = (got: ServerMessage, wanted: string): ProtocolError =>
    new ProtocolError('UNEXPECTED_MESSAGE', `expected ${wanted} from the server, got ${got.type === 'BODY' ? got.command : got.type}`);

  const hello = await read(options.otherTimeoutMs);
  if (hello.type !== 'HELLO') throw unexpected(hello, 'HELLO');
  log.info('Received HELLO');
  send(HELLO_REPLY);

  const work = await read(options.otherTimeoutMs);
  if (work.type !== 'WORK') throw unexpected(work, 'WORK');
  log.info(`Received WORK with n_bits ${work.nBits}`);
  emit({ type: 'work-start', nBits: work.nBits });
  const solution = await solveWithin(options, work.token, work.nBits);
  // Never send a wrong answer, whoever computed it.
  if (!verifyWork(work.token, solution.suffix, work.nBits)) {
    throw new SolverError('WRONG_SUFFIX', `solver returned a suffix that does not solve WORK (${solution.solver})`);
  }
  emit({ type: 'work-done', solution });
  send(solution.suffix);

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
    send(formatBodyReply(checksum(work.token, message.arg), options.profile[message.command]));
    answered.push(message.command);
    log.info(`Answered ${message.command}`);
  }
}

async function solveWithin(options: ClientSessionOptions, token: string, nBits: number): Promise<WorkSolution> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new SolverError('TIMEOUT', 'WORK timeout')), options.workTimeoutMs);
  const onAbort = (): void => controller.abort(new SolverError('ABORTED', 'aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    return await options.solve(token, nBits, controller.signal);
  } catch (err) {
    if (controller.signal.aborted && !options.signal?.aborted) {
      throw new SolverError('TIMEOUT', `WORK not solved within the WORK timeout (${options.workTimeoutMs / 1000} s)`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
