/**
 * The error catalog: every code tlslp reports, the class that carries it, the template its
 * message is rendered from (`{name}` is a parameter, `{name?text|other}` an optional part: see
 * {@link renderMessage}) and a one-line summary for the docs.
 * Modelled on fastify's `FST_ERR_*` list: codes are stable API, messages may improve.
 * Library templates name options (`nBits`, `tls.ca`), never flags; the CLI adds its flags.
 * @module
 */

/** The classes an error of the catalog is thrown as. */
export type ErrorClassName =
  'ProtocolError' | 'TransportError' | 'ConfigError' | 'SolverError' | 'ServerFailError';

/** One entry of {@link ERROR_CATALOG}. */
export interface CatalogEntry {
  /** The class the code is thrown as. */
  readonly type: ErrorClassName;
  /** The message, with `{name}` parameters and `{name?text|other}` optional parts. */
  readonly message: string;
  /** What the code means, in one line (docs/errors.md lists these). */
  readonly summary: string;
}

const CATALOG = {
  // ---- ProtocolError: the peer broke the wire contract -------------------------------------
  TLSLP_ERR_LINE_TOO_LONG: {
    type: 'ProtocolError',
    message: 'line longer than {max} bytes',
    summary: 'A line (with its newline) passed the length limit, 1000 bytes by default.',
  },
  TLSLP_ERR_INVALID_UTF8: {
    type: 'ProtocolError',
    message: 'line is not valid UTF-8',
    summary: 'A line is not valid UTF-8.',
  },
  TLSLP_ERR_NEWLINE_IN_MESSAGE: {
    type: 'ProtocolError',
    message: 'a message may not contain a newline',
    summary: 'Text to send holds a newline, which would split it into two lines.',
  },
  TLSLP_ERR_FLOOD: {
    type: 'ProtocolError',
    message: 'peer sent lines it was not asked for',
    summary: 'The peer sent more lines ahead than the lock-step protocol allows.',
  },
  TLSLP_ERR_BAD_MESSAGE: {
    type: 'ProtocolError',
    message: '{command} takes no argument',
    summary: 'The server sent HELLO or DONE with an argument.',
  },
  TLSLP_ERR_BAD_WORK: {
    type: 'ProtocolError',
    message: 'WORK needs exactly a token and n_bits',
    summary: 'The server sent a WORK line without exactly two arguments.',
  },
  TLSLP_ERR_BAD_WORK_TOKEN: {
    type: 'ProtocolError',
    message: 'WORK token {token} is not 1..128 characters of [A-Za-z0-9_-]',
    summary: "The server's WORK token is outside the protocol's alphabet or length.",
  },
  TLSLP_ERR_BAD_WORK_N_BITS: {
    type: 'ProtocolError',
    message: 'WORK n_bits {value} is not an integer 0..64',
    summary: "The server's WORK difficulty is not an integer 0..64.",
  },
  TLSLP_ERR_BAD_ARGUMENT: {
    type: 'ProtocolError',
    message: '{command} needs one argument without spaces',
    summary: 'The server sent a body command without its one argument.',
  },
  TLSLP_ERR_UNKNOWN_COMMAND: {
    type: 'ProtocolError',
    message: 'unknown command {command}',
    summary: 'The server sent a command the protocol does not have.',
  },
  TLSLP_ERR_UNEXPECTED_MESSAGE: {
    type: 'ProtocolError',
    message: 'expected {wanted} from the server, got {got}',
    summary: 'The server sent a valid message out of order.',
  },
  TLSLP_ERR_MESSAGE_DURING_WORK: {
    type: 'ProtocolError',
    message: 'server sent {got} before the WORK answer',
    summary: 'The server sent a line while the client was still solving WORK.',
  },
  TLSLP_ERR_TOO_MANY_REQUESTS: {
    type: 'ProtocolError',
    message: 'server sent more than {max} body requests without DONE; stopped',
    summary: 'The server asked for more body replies than the maxRequests option allows.',
  },
  TLSLP_ERR_BAD_HELLO: {
    type: 'ProtocolError',
    message: 'expected HELLOBACK',
    summary: 'The client answered HELLO with something other than HELLOBACK.',
  },
  TLSLP_ERR_BAD_SUFFIX: {
    type: 'ProtocolError',
    message: 'suffix is not 1..128 characters of [A-Za-z0-9_-]',
    summary: 'The answer to WORK is malformed or does not have enough trailing zero bits.',
  },
  TLSLP_ERR_BAD_CHECKSUM_FORMAT: {
    type: 'ProtocolError',
    message: 'reply does not start with a lowercase hex SHA-256',
    summary: 'A body reply does not start with 64 lowercase hex digits.',
  },
  TLSLP_ERR_BAD_CHECKSUM: {
    type: 'ProtocolError',
    message: 'reply checksum is not SHA-256(token ‖ argument)',
    summary: "A body reply's checksum is malformed or wrong.",
  },
  TLSLP_ERR_BAD_OK: {
    type: 'ProtocolError',
    message: 'expected OK',
    summary: 'The client answered DONE with something other than OK.',
  },

  // ---- TransportError: the connection failed -----------------------------------------------
  TLSLP_ERR_TIMEOUT: {
    type: 'TransportError',
    message: 'no complete line within {seconds}',
    summary: 'The peer sent no complete line within the step timeout.',
  },
  TLSLP_ERR_CLOSED: {
    type: 'TransportError',
    message: 'connection closed{peer? by peer}',
    summary: 'The connection closed before the session ended.',
  },
  TLSLP_ERR_STATE_UNAVAILABLE: {
    type: 'TransportError',
    message: '{store}: {ms?no answer within {ms} ms|{reason}}',
    summary:
      'The shared state store did not answer in time (the server then decides on its own limits; never reaches a caller).',
  },
  TLSLP_ERR_NOT_READING: {
    type: 'TransportError',
    message: 'peer is not reading',
    summary: 'The peer let more than the write buffer limit pile up unread.',
  },
  TLSLP_ERR_ABORTED: {
    type: 'TransportError',
    message: 'aborted',
    summary: "The caller's AbortSignal fired (or the server is shutting down).",
  },
  TLSLP_ERR_INTERRUPTED: {
    type: 'TransportError',
    message: 'interrupted',
    summary: 'A signal (Ctrl-C, SIGTERM) stopped the client.',
  },
  TLSLP_ERR_READ_PENDING: {
    type: 'TransportError',
    message: 'readLine already pending',
    summary: 'A second readLine was called before the first settled (a programming error).',
  },
  TLSLP_ERR_CONNECTION_REFUSED: {
    type: 'TransportError',
    message: 'connection refused (is the server running on that host and port?)',
    summary: 'Nothing listens on that host and port (ECONNREFUSED).',
  },
  TLSLP_ERR_CONNECTION_RESET: {
    type: 'TransportError',
    message: 'connection reset by peer',
    summary: 'The peer reset the connection (ECONNRESET).',
  },
  TLSLP_ERR_BROKEN_PIPE: {
    type: 'TransportError',
    message: 'connection closed by peer while writing',
    summary: 'The peer went away while a line was being written (EPIPE).',
  },
  TLSLP_ERR_CONNECT_TIMEOUT: {
    type: 'TransportError',
    message: 'connection timed out',
    summary: 'The TCP connection attempt timed out (ETIMEDOUT).',
  },
  TLSLP_ERR_TLS_CONNECT_TIMEOUT: {
    type: 'TransportError',
    message: 'TLS connection not established within {seconds} s',
    summary: 'TCP connect and TLS handshake took longer than the otherTimeoutMs option.',
  },
  TLSLP_ERR_HOST_NOT_FOUND: {
    type: 'TransportError',
    message: 'host name not found',
    summary: 'The host name does not resolve (ENOTFOUND, EAI_AGAIN).',
  },
  TLSLP_ERR_HOST_UNREACHABLE: {
    type: 'TransportError',
    message: 'host unreachable',
    summary: 'No route to the host (EHOSTUNREACH, ENETUNREACH).',
  },
  TLSLP_ERR_TLS_HOSTNAME_MISMATCH: {
    type: 'TransportError',
    message:
      'server certificate does not match the host name: {reason} (dial a name listed in the certificate, or regenerate it with that name)',
    summary:
      'The server certificate does not list the dialled name (ERR_TLS_CERT_ALTNAME_INVALID).',
  },
  TLSLP_ERR_TLS_UNTRUSTED_CERT: {
    type: 'TransportError',
    message: 'server certificate is not issued by the configured CA (check {option})',
    summary: "The server's chain does not lead to the CA the client trusts.",
  },
  TLSLP_ERR_TLS_CERT_EXPIRED: {
    type: 'TransportError',
    message: 'certificate has expired (regenerate it: tlslp certs --force)',
    summary: "The peer's certificate has expired (CERT_HAS_EXPIRED).",
  },
  TLSLP_ERR_TLS_CERT_NOT_YET_VALID: {
    type: 'TransportError',
    message: 'certificate is not yet valid (check the clock)',
    summary: "The peer's certificate starts in the future (CERT_NOT_YET_VALID).",
  },
  TLSLP_ERR_TLS_CERT_REQUIRED: {
    type: 'TransportError',
    message: 'server requires a client certificate (check {certOption} and {keyOption})',
    summary: 'The server asked for a client certificate and got none.',
  },
  TLSLP_ERR_TLS_CERT_REJECTED: {
    type: 'TransportError',
    message:
      'peer rejected the certificate{untrusted? (it is not issued by the CA the peer trusts)}{expired?: it has expired}',
    summary: 'The peer refused our certificate with a TLS alert (unknown CA, expired, …).',
  },
  TLSLP_ERR_TLS_NOT_TLS: {
    type: 'TransportError',
    message: 'peer does not speak TLS',
    summary: 'What came back is not TLS (ERR_SSL_WRONG_VERSION_NUMBER).',
  },
  TLSLP_ERR_TLS_NO_PEER_CERT: {
    type: 'TransportError',
    message: 'peer presented no certificate',
    summary: 'The peer sent no certificate where one is required.',
  },
  TLSLP_ERR_TLS_HANDSHAKE_TIMEOUT: {
    type: 'TransportError',
    message: 'TLS handshake timed out',
    summary: "Node's own TLS handshake timeout fired (ERR_TLS_HANDSHAKE_TIMEOUT).",
  },
  TLSLP_ERR_TLS_HANDSHAKE_FAILURE: {
    type: 'TransportError',
    message:
      "peer aborted the TLS handshake (handshake failure alert: a certificate, key or CA on one side is wrong; check the peer's setup)",
    summary: 'The peer sent a handshake_failure alert.',
  },
  TLSLP_ERR_TLS_VERSION: {
    type: 'TransportError',
    message: 'no TLS version in common (tlslp needs TLS 1.2 or later)',
    summary: 'The peer offers no TLS version tlslp accepts (1.2 and 1.3).',
  },
  TLSLP_ERR_TLS_FAILED: {
    type: 'TransportError',
    message: 'TLS handshake failed ({opensslCode?{opensslCode}; }the DEBUG log has the detail)',
    summary: 'Any other OpenSSL failure; the cause holds the raw code and text.',
  },
  TLSLP_ERR_SOCKET: {
    type: 'TransportError',
    message: '{reason}',
    summary: "Any other socket error; the cause holds Node's error.",
  },
  TLSLP_ERR_CLOSED_DURING_WORK: {
    type: 'TransportError',
    message: 'server ended the connection during WORK ({reason}); solver stopped',
    summary: 'The server closed the connection while the client solved WORK.',
  },
  TLSLP_ERR_SESSION_TIMEOUT: {
    type: 'TransportError',
    message: 'session not finished within {seconds} s; stopped',
    summary: 'The whole session took longer than the sessionTimeoutMs option.',
  },
  TLSLP_ERR_NOT_AUTHORIZED: {
    type: 'TransportError',
    message:
      'server refused client certificate {identity}: on none of its allow-lists (FAIL {reason})',
    summary: 'A client certificate from our CA matched none of the allowCn/Ou/Dns/Uri lists.',
  },
  TLSLP_ERR_MAX_PER_IDENTITY: {
    type: 'TransportError',
    message:
      'server refused client certificate {identity}: it already has as many sessions as the server allows, its maxPerIdentity (FAIL {reason}); try again once one ends',
    summary: 'A client certificate opened more sessions at once than maxPerIdentity allows.',
  },
  TLSLP_ERR_CERT_REFUSED: {
    type: 'TransportError',
    message: 'server refused client certificate {identity} (FAIL {reason})',
    summary:
      'The server refused a client certificate after the handshake, before HELLO: revoked, chain too long, key too weak, or its CRL cannot say.',
  },
  TLSLP_ERR_CLOSED_BEFORE_HELLO: {
    type: 'TransportError',
    message:
      "server closed the connection at the end of the TLS handshake, before HELLO: it most likely refused client certificate {identity} (not issued by its CA, expired or not yet valid; the server's log says which)",
    summary:
      'A mutual-TLS server closed the connection without a word right after (or at the end of) the handshake: how a tlslp server ends a chain OpenSSL could not verify.',
  },
  TLSLP_ERR_ADDRESS_IN_USE: {
    type: 'TransportError',
    message: 'cannot listen on {address}: address already in use (pick another {option})',
    summary: 'The address the server is to listen on is taken (EADDRINUSE).',
  },
  TLSLP_ERR_METRICS_ADDRESS_IN_USE: {
    type: 'TransportError',
    message: 'cannot serve metrics on {address}: address already in use',
    summary: 'The address the metrics endpoint is to listen on is taken (EADDRINUSE).',
  },
  TLSLP_ERR_LISTEN_FAILED: {
    type: 'TransportError',
    message:
      'cannot {endpoint?serve {endpoint}|listen} on {address}: {reason}{privileged? (use a port above 1023)}',
    summary: 'The address cannot be listened on (EACCES: use a port above 1023, …).',
  },

  // ---- ConfigError: the configuration is unusable ------------------------------------------
  TLSLP_ERR_BAD_OPTION: {
    type: 'ConfigError',
    message: '{option} must be {expected}, not {value}',
    summary:
      "An option's value is not one its entry in the option table takes (range, type, list).",
  },
  TLSLP_ERR_NOT_RELOADABLE: {
    type: 'ConfigError',
    message:
      '{option} cannot change on a running server: {from?it would switch between auto and a fixed n_bits ({from} → {to})|not one of the reloadable options}; restart it to apply',
    summary:
      'TlslpServer.reconfigure was given an option it cannot change live (RELOADABLE_SERVER_OPTIONS lists those it can).',
  },
  TLSLP_ERR_BAD_N_BITS: {
    type: 'ConfigError',
    message: '{option} must be a whole number 0..64, not {value}',
    summary: 'The WORK difficulty option is not an integer 0..64.',
  },
  TLSLP_ERR_BAD_TOKEN: {
    type: 'ConfigError',
    message: '{option} must be 1..128 characters of [A-Za-z0-9_-]',
    summary: 'A WORK token option is outside the protocol alphabet or length.',
  },
  TLSLP_ERR_BAD_THREADS: {
    type: 'ConfigError',
    message: '{option} must be a whole number 1..{max}, not {value}',
    summary: 'The solver thread count is outside 1..the number of cores allowed.',
  },
  TLSLP_ERR_BAD_DURATION: {
    type: 'ConfigError',
    message: '{option} must be a positive number of milliseconds, not {value}',
    summary: 'A duration option (sessionTimeoutMs, progressIntervalMs) is not positive.',
  },
  TLSLP_ERR_BAD_ADAPTIVE_RANGE: {
    type: 'ConfigError',
    message: '{option} ({min}) must not be above {maxOption} ({max})',
    summary: 'The adaptive difficulty range is empty or outside 0..64.',
  },
  TLSLP_ERR_TUTORIAL_ADAPTIVE: {
    type: 'ConfigError',
    message: 'tutorial mode needs a fixed {option}, not auto',
    summary: 'Tutorial mode was combined with adaptive difficulty.',
  },
  TLSLP_ERR_NO_CERT: {
    type: 'ConfigError',
    message:
      '{server?the server needs a certificate and a key ({cert}, {key})|mutual TLS needs {ca}, {cert} and {key}}',
    summary: 'A certificate, key or CA that mutual TLS needs is missing.',
  },
  TLSLP_ERR_NO_CA: {
    type: 'ConfigError',
    message: 'mutual TLS needs the CA certificate that issues client certificates ({option})',
    summary: 'The server has no CA to verify client certificates with.',
  },
  TLSLP_ERR_BAD_TLS_MATERIAL: {
    type: 'ConfigError',
    message: '{side} certificate, key or CA unusable: {reason} (check {options})',
    summary: 'Node refused the certificate, key or CA when building the TLS context.',
  },
  TLSLP_ERR_INSECURE_NOT_LOOPBACK: {
    type: 'ConfigError',
    message:
      '{option} is only allowed with localhost or a loopback address, not {host}; drop {option} and use certificates',
    summary: 'Insecure mode (no client certificates) was asked for a non-loopback host.',
  },
  TLSLP_ERR_IDENTITY_INSECURE: {
    type: 'ConfigError',
    message: '{option} needs client certificates; it cannot be used with {insecureOption}',
    summary: 'An allow-list or per-identity limit was combined with insecure mode.',
  },
  TLSLP_ERR_CERT_FILE: {
    type: 'ConfigError',
    message:
      '{file}: {missing?not found}{denied?not readable (check its permissions)}{folder?is a folder}{errno?cannot be read ({errno})}{notPem?not a PEM file}{notCert?not a PEM certificate}{notKey?not a PEM private key (or it is encrypted: tlslp takes unencrypted keys)}{badCert?a certificate in it does not parse}{noCa?a CRL needs the CA certificate that issued it (mutual TLS)}{reason?{reason}}{setFix?; pass the right path, or create a set with: tlslp certs}{fix?; pass the right path, or {fix}}{crlFix?; pass the right path, or make an empty one with: tlslp certs crl --init --dir {crlFix}}{crlElsewhere? (it writes ca_crl.pem there)}{initDir?; make an empty one with: tlslp certs crl --init --dir {initDir}}',
    summary: 'A certificate, key, CA or CRL file is missing, unreadable or not what it should be.',
  },
  TLSLP_ERR_KEY_MISMATCH: {
    type: 'ConfigError',
    message:
      '{key} does not match the certificate in {cert}; pass the key made with that certificate (or make a new set: tlslp certs --force)',
    summary: 'The private key is not the one of the certificate.',
  },
  TLSLP_ERR_CERT_NOT_YET_VALID: {
    type: 'ConfigError',
    message: '{cert} is not valid before {date}; check the clock, or issue a new certificate',
    summary: "The server's own certificate starts in the future.",
  },
  TLSLP_ERR_CERT_EXPIRED: {
    type: 'ConfigError',
    message: '{cert} expired on {date}; issue a new one (tlslp certs --force makes a new set)',
    summary: "The server's own certificate has expired.",
  },
  TLSLP_ERR_CA_IS_KEY: {
    type: 'ConfigError',
    message:
      '{ca} holds a private key, not a certificate; pass the CA certificate (ca_cert.pem), never a key',
    summary: 'A private key was given where the CA certificate belongs.',
  },
  TLSLP_ERR_CA_NOT_CERT: {
    type: 'ConfigError',
    message: '{ca} holds no certificate; pass the CA certificate (ca_cert.pem)',
    summary: 'The CA file holds no certificate.',
  },
  TLSLP_ERR_CERT_SET_READ: {
    type: 'ConfigError',
    message: 'cannot read {path} ({errno}); create the set with: tlslp certs --dir {dir}',
    summary: 'A file of a certificate set cannot be read back.',
  },
  TLSLP_ERR_CERT_DIR: {
    type: 'ConfigError',
    message: 'cannot create {dir}: {reason}',
    summary: 'The folder for a new certificate set cannot be created.',
  },
  TLSLP_ERR_CERT_WRITE: {
    type: 'ConfigError',
    message: 'cannot {check?check|write} {path}: {reason}',
    summary: 'A file of a new certificate set cannot be checked or written.',
  },
  TLSLP_ERR_CERT_EXISTS: {
    type: 'ConfigError',
    message: 'refusing to overwrite {files}; use {option} to replace {several?them|it}',
    summary: 'A certificate set exists where a new one would be written.',
  },

  // ---- certificates: issuing, inspecting, revoking
  TLSLP_ERR_CA_KEY_TYPE: {
    type: 'ConfigError',
    message: '{key}: a {keyType} CA key cannot sign here (RSA or EC P-256, P-384, P-521 can)',
    summary: 'The CA key is of a type certificates and CRLs cannot be signed with.',
  },
  TLSLP_ERR_CLIENT_CERT_EXISTS: {
    type: 'ConfigError',
    message: 'refusing to overwrite {files}; pick another {option}, or move the old files away',
    summary: 'A client certificate or key of that name exists; one is never overwritten.',
  },
  TLSLP_ERR_CRL_FILE: {
    type: 'ConfigError',
    message: 'cannot read the CRL {path} ({errno})',
    summary: 'A CRL file cannot be read.',
  },
  TLSLP_ERR_BAD_CRL: {
    type: 'ConfigError',
    message:
      '{path}: {notPem?not a PEM CRL}{notCrl?not a CRL (PEM or DER)}{foreign?not signed by the CA of this folder; move it away to start a new CRL}{badNumber?its CRL number is not a small INTEGER}',
    summary: 'A CRL is not a PEM CRL, has a malformed CRL number, or is not signed by this CA.',
  },
  TLSLP_ERR_CRL_TOO_BIG: {
    type: 'ConfigError',
    message:
      '{file}: {bytes} bytes, more than the {max} {limitOption} allows; raise {limitOption} or publish a smaller CRL',
    summary:
      'A CRL file is bigger than the maxCrlBytes option allows (checked before it is parsed).',
  },
  TLSLP_ERR_REVOKE_TARGET: {
    type: 'ConfigError',
    message:
      'give exactly one of the certificate to revoke ({option}) and its serial ({serialOption})',
    summary: 'Revoking needs exactly one of the certificate and its serial number.',
  },
  TLSLP_ERR_NOT_OUR_CERT: {
    type: 'ConfigError',
    message: '{subject} is not issued by the CA {ca}; revoke it with the CA that issued it',
    summary: "The certificate to revoke was issued by another CA than the folder's.",
  },
  TLSLP_ERR_CRL_MODE: {
    type: 'ConfigError',
    message: 'give exactly one of --init, --list and --refresh (given: {given})',
    summary: 'The crl subcommand of tlslp certs was given none or several of its modes (CLI).',
  },

  TLSLP_ERR_BAD_HOST: {
    type: 'ConfigError',
    message:
      'server host {host} {ipv6?is not an IPv6 address a certificate can hold|is neither a DNS name nor an IP address}',
    summary: 'A server host name for a certificate is neither a DNS name nor an IP address.',
  },
  TLSLP_ERR_SOLVER_PATH: {
    type: 'ConfigError',
    message:
      '{option} {path}: {missing?not found}{link?is a link in a folder others may write to; point at the real file}{notFile?not a regular file}{noExecBit?not executable (chmod +x it)}{notExecutable?not executable by this user}{othersWrite?writable by others (chmod o-w it)}{folderOthersWrite?its folder is writable by others; move the solver}',
    summary: 'The external solver is missing, not executable, or others could replace it.',
  },
  TLSLP_ERR_BAD_KERNEL: {
    type: 'ConfigError',
    message: 'unknown kernel {name}: use auto, native, native:<variant>, wasm or js',
    summary: 'The kernel option names no kernel.',
  },
  TLSLP_ERR_KERNEL_UNAVAILABLE: {
    type: 'ConfigError',
    message: '{name} kernel unavailable: {reason}',
    summary: 'The kernel asked for cannot load on this machine.',
  },
  TLSLP_ERR_BAD_PROFILE: {
    type: 'ConfigError',
    message:
      '{source}: {unknown?unknown field {unknown}; fields are {fields}}{notString?{field} must be a string}{lineBreak?{field} may not contain a line break}{maxBytes?{field} is longer than {maxBytes} bytes}',
    summary: 'A profile (the body values) has an unknown field or a value that cannot be sent.',
  },
  TLSLP_ERR_PROFILE_FILE: {
    type: 'ConfigError',
    message:
      '{fileOption} {path}: {errno?cannot be read ({errno})}{syntax?not valid JSON ({syntax})}{notObject?must be a JSON object of field values}',
    summary: 'A profile file cannot be read, is not JSON, or is not an object.',
  },
  TLSLP_ERR_PROFILE_INCOMPLETE: {
    type: 'ConfigError',
    message:
      '{fileOption} {path}: missing {fields}; add them, or pass {option} to fill them with sample data',
    summary: 'A profile file lacks fields and partial profiles were not allowed.',
  },
  TLSLP_ERR_BAD_LOG_LEVEL: {
    type: 'ConfigError',
    message: 'unknown log level {value}; use one of {levels}',
    summary: 'The log level is none of DEBUG, INFO, WARNING, ERROR, CRITICAL.',
  },
  TLSLP_ERR_BAD_LOG_FORMAT: {
    type: 'ConfigError',
    message: 'unknown log format {value}; use text or json',
    summary: 'The log format is neither text nor json.',
  },
  TLSLP_ERR_BAD_LOG_BACKUPS: {
    type: 'ConfigError',
    message: 'the number of log backups must be a positive integer, not {value}',
    summary: 'The maxFiles option of the log file is not a positive integer.',
  },
  TLSLP_ERR_BAD_LOG_SIZE: {
    type: 'ConfigError',
    message:
      'bad log rotation size {value} for {path}: use a positive number and a unit B, K, M or G, e.g. 50M',
    summary: 'The maxSize option of the log file is not a size like 50M.',
  },
  TLSLP_ERR_BAD_LOG_RETRY: {
    type: 'ConfigError',
    message: 'log file retry delays must satisfy 0 < min <= max, not min={min} max={max}',
    summary: 'The retryMs option of the log file is not 0 < min <= max.',
  },
  TLSLP_ERR_BAD_LOG_CHECK: {
    type: 'ConfigError',
    message: 'the log file check interval must be a number >= 0, not {value}',
    summary: 'The checkMs option of the log file is negative or not finite.',
  },
  TLSLP_ERR_LOG_FILE: {
    type: 'ConfigError',
    message: 'cannot {folder?create the log folder|open the log file} {path}: {reason}',
    summary: 'The log file or its folder cannot be created or opened.',
  },
  TLSLP_ERR_CONFIG_FILE: {
    type: 'ConfigError',
    message:
      '{source}: {missing?no such file}{unreadable?not readable}{syntax?not valid {format}: {syntax}}{notTable?must hold a table of options}{flagOnly?"{flagOnly}" is not a setting (--{flagOnly} is a command-line flag only)}{spelt?"{key}" is "{spelt}" given twice; keep one, spelt "{spelt}"}{unknown?unknown option "{unknown}"}{meant?; did you mean "{meant}"?}{twice?"{twice}" is given twice}{notBoolean?"{notBoolean}" must be true or false}{emptyList?"{emptyList}" is an empty list: leave the key out}{notStrings?"{notStrings}" must be a list of strings, e.g. {notStrings} = ["a", "b"]}{notList?"{notList}" takes one value, not a list ({flag} is not repeatable)}{notScalar?"{notScalar}" must be a string or a number}{choices?"{key}" must be one of {choices}}{reason?"{key}": {reason}}',
    summary: 'A --config file is unreadable, malformed, or sets an unknown or bad option (CLI).',
  },
  TLSLP_ERR_TUTORIAL_WORKERS: {
    type: 'ConfigError',
    message: 'tutorial mode serves one session: drop {option}',
    summary: 'Tutorial mode was combined with several cluster workers (CLI).',
  },
  TLSLP_ERR_BITS_WITHOUT_AUTO: {
    type: 'ConfigError',
    message:
      '{option} applies only with {autoOption} auto (adaptive difficulty); add {autoOption} auto or drop {option}',
    summary: 'An adaptive difficulty bound was given without adaptive difficulty.',
  },
  TLSLP_ERR_STATE_CA: {
    type: 'ConfigError',
    message:
      "{option} {path}: {reason}; pass the CA certificate (PEM) that issued the state store's certificate",
    summary: 'The CA file for a TLS state store (`--state-ca`) cannot be read (CLI).',
  },
  TLSLP_ERR_METRICS_LISTEN: {
    type: 'ConfigError',
    message: '{source}: {reason}; pick a free port',
    summary: 'The metrics or health endpoint cannot listen where it was asked to (CLI).',
  },
  TLSLP_ERR_CHECK_BIND: {
    type: 'ConfigError',
    message: '{source}: {reason}',
    summary:
      'A port `tlslp-server --check` bind-tests cannot be bound: in use, or not allowed (CLI).',
  },

  // ---- SolverError: the proof-of-work solver failed ----------------------------------------
  TLSLP_ERR_SOLVE_ABORTED: {
    type: 'SolverError',
    message:
      'proof-of-work solve aborted ({serverGaveUp?server gave up}{solverStopped?external solver stopped}{signal?signal}{reason?{reason}})',
    summary: 'The solve was stopped: by the caller, a signal, or the server giving up.',
  },
  TLSLP_ERR_WORK_TIMEOUT: {
    type: 'SolverError',
    message: 'WORK not solved within the WORK timeout ({seconds} s)',
    summary: 'The solver did not find a suffix within the workTimeoutMs option.',
  },
  TLSLP_ERR_WRONG_SUFFIX: {
    type: 'SolverError',
    message: 'solver returned a suffix that does not solve WORK ({solver})',
    summary: 'A solver answered with a suffix that fails the check; it is never sent.',
  },
  TLSLP_ERR_EXHAUSTED: {
    type: 'SolverError',
    message: 'no solution for {nBits} bits in the 64-bit nonce space',
    summary: 'All 2^64 nonces were tried without a solution (only possible in theory).',
  },
  TLSLP_ERR_BAD_BATCH: {
    type: 'SolverError',
    message: 'batch at {hi}:{lo} of {count} nonces crosses a 2^32 boundary',
    summary: 'A scan batch was cut wrongly (a programming error).',
  },
  TLSLP_ERR_BAD_JOB: {
    type: 'SolverError',
    message: 'malformed prepared job',
    summary: 'A kernel was handed a job of the wrong shape (a programming error).',
  },
  TLSLP_ERR_KERNEL_MISMATCH: {
    type: 'SolverError',
    message:
      "{kernel} kernel reported suffix '{suffix}' for token '{token}' at {nBits} bits, but node:crypto disagrees",
    summary: 'A kernel reported a hit that node:crypto does not confirm.',
  },
  TLSLP_ERR_KERNEL_LOAD: {
    type: 'SolverError',
    message: '{kernel} kernel: unexpected exports',
    summary: 'An optional kernel loaded in an unexpected shape (it is then left out).',
  },
  TLSLP_ERR_KERNELS_NOT_LOADED: {
    type: 'SolverError',
    message: 'kernels not loaded: await loadKernels() first',
    summary: 'A kernel other than js was selected before loadKernels() finished.',
  },
  TLSLP_ERR_NO_KERNEL: {
    type: 'SolverError',
    message: 'no kernel available',
    summary: 'No kernel could be selected (the js kernel always loads, so never expected).',
  },
  TLSLP_ERR_WORKER_MISSING: {
    type: 'SolverError',
    message: 'solver worker not found at {path} or {built}: run npm run build',
    summary: 'The compiled solver worker is missing.',
  },
  TLSLP_ERR_SOLVER_FAILED: {
    type: 'SolverError',
    message: 'solver failed: {reason}',
    summary: 'A solver given as the solver option threw a plain error; the cause holds it.',
  },
  TLSLP_ERR_WORKER_FAILED: {
    type: 'SolverError',
    message: 'solver worker failed: {reason}',
    summary: 'A solver worker thread threw; the cause holds its error.',
  },
  TLSLP_ERR_SOLVER_START: {
    type: 'SolverError',
    message: 'external solver could not start: {reason}',
    summary: 'The external solver could not be spawned.',
  },
  TLSLP_ERR_SOLVER_TIMEOUT: {
    type: 'SolverError',
    message: 'external solver did not finish within {seconds} s and was killed',
    summary: 'The external solver ran past its deadline.',
  },
  TLSLP_ERR_SOLVER_EXIT: {
    type: 'SolverError',
    message: 'external solver failed ({signal?{signal}|exit {exitCode}}){stderr?: {stderr}}',
    summary: 'The external solver exited non-zero or was killed by a signal.',
  },
  TLSLP_ERR_SOLVER_OUTPUT: {
    type: 'SolverError',
    message:
      'external solver {noResult?printed no RESULT: line}{badSuffix?returned an invalid suffix}{tooMuch?printed too much output}',
    summary: 'The external solver printed no valid RESULT: line, or too much.',
  },

  // ---- ServerFailError ---------------------------------------------------------------------
  TLSLP_ERR_SERVER_FAIL: {
    type: 'ServerFailError',
    message: 'server sent FAIL{reason?: {reason}}',
    summary: 'The server ended the session with FAIL <reason> (often its simulated failure).',
  },
} as const satisfies Record<`TLSLP_ERR_${string}`, CatalogEntry>;

/**
 * Every code tlslp reports, with the class it is thrown as, its message template and a
 * one-line summary (docs/errors.md lists them). Typed as a mapped type so each entry keeps
 * its literal template (the parameters are checked from it) without the API reference
 * listing a hundred objects.
 */
export const ERROR_CATALOG: { readonly [C in keyof typeof CATALOG]: (typeof CATALOG)[C] } = CATALOG;

/** Every code of the catalog. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The codes carried by class `K`. */
export type CodeOf<K extends ErrorClassName> = {
  [C in ErrorCode]: (typeof ERROR_CATALOG)[C]['type'] extends K ? C : never;
}[ErrorCode];

/*
 * Template syntax. `{name}` is a parameter the caller must give. `{name?text}` is an optional
 * part: `text` is written only when `name` is given (not undefined, false or ''), and
 * `{name?text|other}` writes `other` instead when it is not. `text` may hold `{x}`
 * parameters of its own (no nested parts). So callers pass values (`{ peer: true }`,
 * `{ reason: err.message }`), never pieces of sentences (`' by peer'`, `': ' + reason`).
 */

/** The names of a template: `[required, optional]` (the parts' names and what they hold). */
type Scan<
  T extends string,
  Req = never,
  Opt = never,
> = T extends `${string}{${infer Head}}${infer Rest}`
  ? Head extends `${infer N}?${infer Body}`
    ? Body extends `${string}{${infer I}`
      ? InPart<Rest, Req, Opt | N | I>
      : Scan<Rest, Req, Opt | N>
    : Scan<Rest, Req | Head, Opt>
  : [Req, Opt];

/** The rest of an optional part that holds parameters, up to its closing brace. */
type InPart<T extends string, Req, Opt> = T extends `${infer Pre}}${infer After}`
  ? Pre extends `${string}{${infer I}`
    ? InPart<After, Req, Opt | I>
    : Scan<After, Req, Opt>
  : [Req, Opt];

/** The parameters a template needs. */
type Needed<T extends string> = Scan<T>[0];
/** The parameters of a template's optional parts (those it needs are not among them). */
type Extra<T extends string> = Exclude<Scan<T>[1], Needed<T>>;

/** A value a template parameter takes. */
export type ParamValue = string | number | bigint | boolean;

/** One object type of an intersection (so a hover and a type test see plain fields). */
type Flat<T> = { [K in keyof T]: T[K] };

/** The parameters code `C`'s message takes: its `{name}`s, and its optional parts' names. */
export type ParamsOf<C extends ErrorCode> = Flat<
  {
    readonly [P in Needed<(typeof ERROR_CATALOG)[C]['message']>]: ParamValue;
  } & {
    readonly [P in Extra<(typeof ERROR_CATALOG)[C]['message']>]?: ParamValue | undefined;
  }
>;

/** Options every error takes. */
export interface ErrorOptions {
  /** The error that caused this one (a socket's errno error, a parse error, …). */
  cause?: unknown;
}

/**
 * The constructor arguments of class `K`: one of its codes, then that code's parameters
 * (optional when its template needs none), then options of type `O`.
 */
export type ErrorArgs<K extends ErrorClassName, O = ErrorOptions> =
  | {
      [C in CodeOf<K>]: [Needed<(typeof ERROR_CATALOG)[C]['message']>] extends [never]
        ? [code: C, params?: ParamsOf<C>, options?: O]
        : [code: C, params: ParamsOf<C>, options?: O];
    }[CodeOf<K>]
  // Any of the codes without parameters at once (a code picked from a table).
  | [code: PlainCodeOf<K>, params?: undefined, options?: O];

/** The codes of class `K` whose template needs no parameters (it may take optional ones). */
export type PlainCodeOf<K extends ErrorClassName> = {
  [C in CodeOf<K>]: [Needed<(typeof ERROR_CATALOG)[C]['message']>] extends [never] ? C : never;
}[CodeOf<K>];

/** An optional part `{name?text|other}`, or a parameter `{name}`. */
const PIECE = /\{(\w+)\?((?:[^{}|]|\{\w+\})*)(?:\|((?:[^{}|]|\{\w+\})*))?\}|\{(\w+)\}/g;

/** Whether an optional part's parameter counts as given. */
const given = (value: ParamValue | undefined): boolean =>
  value !== undefined && value !== false && value !== '';

/**
 * Render a template: each `{name}` is replaced by its parameter (left as it is when missing),
 * each optional part `{name?text|other}` by its text when `name` is given, else by `other`.
 */
export function renderMessage(
  template: string,
  params: Readonly<Record<string, ParamValue | undefined>>,
): string {
  const value = (name: string): ParamValue | undefined =>
    Object.hasOwn(params, name) ? params[name] : undefined;
  const fill = (text: string): string =>
    text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const v = value(name);
      return v === undefined ? whole : String(v);
    });
  return template.replace(
    PIECE,
    (_whole: string, part?: string, text?: string, other?: string, name?: string) =>
      part !== undefined
        ? fill(given(value(part)) ? (text ?? '') : (other ?? ''))
        : fill(`{${name ?? ''}}`),
  );
}

/**
 * The parameter names of a template: those it needs, and those of its optional parts
 * (for tests and docs; the types check callers at compile time).
 */
export function templateParams(template: string): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  for (const m of template.matchAll(PIECE)) {
    if (m[1] === undefined) {
      required.add(m[4] as string);
      continue;
    }
    optional.add(m[1]);
    for (const inner of `${m[2] ?? ''}|${m[3] ?? ''}`.matchAll(/\{(\w+)\}/g))
      optional.add(inner[1] as string);
  }
  for (const name of required) optional.delete(name);
  return { required: [...required], optional: [...optional] };
}

/** Whether `value` is a code of the catalog. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}
