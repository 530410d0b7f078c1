/**
 * The server's side of one session (docs/protocol.md §3) over a {@link LineChannel}. Knows nothing
 * of sockets or TLS.
 * @module
 */
import { ProtocolError, TlslpError, TransportError, type ErrorCode } from '../errors/index.js';
import { checksum, verifyWork } from '../protocol/hash.js';
import {
  DONE_REPLY,
  HELLO_REPLY,
  formatServerMessage,
  isValidSuffix,
  parseBodyReply,
  redactToken,
  type ServerMessage,
} from '../protocol/messages.js';
import type { BodyDraw } from '../protocol/random.js';
import { toTransportError, type LineChannel } from '../transport/channel.js';
import { FAIL_REASONS } from '../protocol/fail-reasons.js';

/** What one session asks of the client. */
export interface SessionPlan {
  /** The WORK token of this session. */
  token: string;
  /** The WORK difficulty: trailing zero bits required. */
  nBits: number;
  /** Number of body steps (each a command or FAIL). */
  bodyRequests: number;
  /** Draw the i-th body step. */
  nextCommand: (index: number) => BodyDraw;
  /** The argument of the i-th body step. */
  nextArg: (index: number) => string;
  /** Time the client gets to answer WORK. */
  workTimeoutMs: number;
  /** Time the client gets for every other reply. */
  otherTimeoutMs: number;
  /** Called with the time from WORK sent to a valid suffix received (for metrics). */
  onWorkAccepted?: (ms: number) => void;
}

/** How a session ended. */
export type SessionOutcome =
  | {
      /** All steps answered, DONE/OK exchanged. */
      outcome: 'done';
    }
  | {
      /** The server drew FAIL (a simulated server-side failure; not the client's fault). */
      outcome: 'fail-drawn';
      /** The text sent after `FAIL`. */
      reason: string;
    }
  | {
      /** The client broke the contract; the server sent `FAIL <reason>`. */
      outcome: 'rejected';
      /** Catalog code of the violation, e.g. `TLSLP_ERR_BAD_SUFFIX`, `TLSLP_ERR_LINE_TOO_LONG`. */
      code: ErrorCode;
      /** The reason sent to the client (one of {@link FAIL_REASONS}). */
      reason: string;
    }
  | {
      /** The connection failed: timeout, reset, closed early. */
      outcome: 'transport';
      /** Catalog code, e.g. `TLSLP_ERR_TIMEOUT`, `TLSLP_ERR_CLOSED`, `TLSLP_ERR_CONNECTION_RESET`. */
      code: ErrorCode;
      /** A readable description. */
      reason: string;
    };

/** Where a session reports what it does; the server decides where that goes. */
export interface SessionLog {
  /** A step of the session (HELLOBACK received, suffix valid, …); `fields` for JSON logs. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Every line sent (tokens redacted), and body values. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** The session was rejected, timed out or ended early. */
  warning(msg: string, fields?: Record<string, unknown>): void;
}

export { FAIL_REASONS };

function reasonFor(err: ProtocolError): string {
  switch (err.code) {
    case 'TLSLP_ERR_LINE_TOO_LONG':
      return FAIL_REASONS.lineTooLong;
    case 'TLSLP_ERR_INVALID_UTF8':
      return FAIL_REASONS.invalidUtf8;
    case 'TLSLP_ERR_FLOOD':
      return FAIL_REASONS.flood;
    default:
      return FAIL_REASONS.badReply;
  }
}

/**
 * Refuse a client before HELLO (the gate refused its certificate after the handshake):
 * `FAIL <reason>`, then our side ends; the channel cuts the connection after its linger.
 */
export function refuseBeforeHello(channel: LineChannel, reason: string): void {
  channel.writeLine(formatServerMessage({ type: 'FAIL', reason }));
  channel.end();
}

/** Run the server's side of one session. Never throws for anything the client does. */
export async function runServerSession(
  channel: LineChannel,
  plan: SessionPlan,
  log: SessionLog,
  signal?: AbortSignal,
): Promise<SessionOutcome> {
  const send = (message: ServerMessage, shown?: string): void => {
    const line = formatServerMessage(message);
    channel.writeLine(line);
    log.debug(`Sent: ${shown ?? line}`);
  };
  const reject = (code: ErrorCode, reason: string): SessionOutcome => {
    log.warning(`Session rejected: ${reason}`);
    send({ type: 'FAIL', reason });
    channel.end();
    return { outcome: 'rejected', code, reason };
  };

  try {
    send({ type: 'HELLO' });
    if ((await channel.readLine(plan.otherTimeoutMs, signal)) !== HELLO_REPLY)
      return reject('TLSLP_ERR_BAD_HELLO', FAIL_REASONS.badHello);
    log.info('Received HELLOBACK');

    send(
      { type: 'WORK', token: plan.token, nBits: plan.nBits },
      `WORK ${redactToken(plan.token)} ${plan.nBits}`,
    );
    log.info(`Sent WORK with n_bits ${plan.nBits}`, { event: 'work-sent', n_bits: plan.nBits });
    const workSent = performance.now();
    const suffix = await channel.readLine(plan.workTimeoutMs, signal);
    if (!isValidSuffix(suffix) || !verifyWork(plan.token, suffix, plan.nBits)) {
      return reject('TLSLP_ERR_BAD_SUFFIX', FAIL_REASONS.badSuffix);
    }
    plan.onWorkAccepted?.(performance.now() - workSent);
    log.info(`Valid suffix received: ${suffix}`);

    for (let i = 0; i < plan.bodyRequests; i++) {
      const command = plan.nextCommand(i);
      const arg = plan.nextArg(i);
      if (command === 'FAIL') {
        log.info(`Drew FAIL at step ${i + 1} of ${plan.bodyRequests}: ending the session`);
        send({ type: 'FAIL', reason: arg });
        channel.end();
        return { outcome: 'fail-drawn', reason: arg };
      }
      send({ type: 'BODY', command, arg });
      const line = await channel.readLine(plan.otherTimeoutMs, signal);
      let reply;
      try {
        reply = parseBodyReply(line);
      } catch {
        return reject('TLSLP_ERR_BAD_CHECKSUM', FAIL_REASONS.badChecksum);
      }
      if (reply.checksum !== checksum(plan.token, arg))
        return reject('TLSLP_ERR_BAD_CHECKSUM', FAIL_REASONS.badChecksum);
      log.info(`${command} answered, checksum valid`);
      log.debug(`${command} value: ${JSON.stringify(reply.value)}`);
    }

    send({ type: 'DONE' });
    if ((await channel.readLine(plan.otherTimeoutMs, signal)) !== DONE_REPLY)
      return reject('TLSLP_ERR_BAD_OK', FAIL_REASONS.badOk);
    log.info('Received OK: session complete');
    channel.end();
    return { outcome: 'done' };
  } catch (err) {
    if (err instanceof ProtocolError) return reject(err.code, reasonFor(err));
    const e =
      err instanceof TlslpError
        ? err
        : err instanceof Error
          ? toTransportError(err)
          : new TransportError('TLSLP_ERR_SOCKET', { reason: String(err) });
    if (e.code === 'TLSLP_ERR_TIMEOUT') {
      log.warning(`Session timed out: ${e.message}`);
      // Best effort: the peer may be gone.
      send({ type: 'FAIL', reason: FAIL_REASONS.timeout });
      channel.end();
    } else {
      log.warning(`Session ended early: ${e.message}`);
      channel.destroy();
    }
    return { outcome: 'transport', code: e.code, reason: e.message };
  }
}
