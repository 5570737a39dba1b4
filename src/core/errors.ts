/**
 * The error catalogue: every failure a caller can see has a stable code, an HTTP status and a
 * `ten` exit code. Errors are converted in exactly two places: the API error hook and cli/main.
 * @module
 */

interface CodeEntry {
  /** HTTP status the API answers with (0: never sent over HTTP). */
  readonly status: number;
  /** `ten` exit code: 2 for usage/input errors, 1 for failures. */
  readonly exit: 1 | 2;
}

export const ERROR_CATALOGUE = {
  // input
  invalid_name: { status: 400, exit: 2 },
  invalid_weight: { status: 400, exit: 2 },
  bad_request: { status: 400, exit: 2 },
  usage: { status: 400, exit: 2 },
  invalid_config: { status: 400, exit: 2 },
  payload_too_large: { status: 413, exit: 1 },
  // auth
  unauthorized: { status: 401, exit: 1 },
  forbidden: { status: 403, exit: 1 },
  too_many_attempts: { status: 429, exit: 1 },
  too_many_streams: { status: 503, exit: 1 },
  // lookup and state
  not_found: { status: 404, exit: 1 },
  service_not_found: { status: 404, exit: 1 },
  instance_not_found: { status: 404, exit: 1 },
  already_exists: { status: 409, exit: 1 },
  invalid_state: { status: 422, exit: 1 },
  conflict: { status: 409, exit: 1 },
  // runtime
  unavailable: { status: 503, exit: 1 },
  max_instances: { status: 503, exit: 1 },
  startup_timeout: { status: 503, exit: 1 },
  spawn_failed: { status: 503, exit: 1 },
  isolation_unavailable: { status: 503, exit: 1 },
  // CLI only
  server_unreachable: { status: 0, exit: 1 },
  // anything uncoded is a bug
  internal: { status: 500, exit: 1 },
} as const satisfies Record<string, CodeEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface TenementErrorOptions {
  /** The next thing the user should do. */
  hint?: string;
  /** Structured context, e.g. `{ key: 'service.api.isolation', line: 4 }`. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class TenementError extends Error {
  override readonly name = 'TenementError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: TenementErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

export function exitCodeOf(code: ErrorCode): 1 | 2 {
  return ERROR_CATALOGUE[code].exit;
}

/** Any thrown value as a TenementError; an uncoded error becomes `internal` (a bug). */
export function toTenementError(err: unknown): TenementError {
  if (err instanceof TenementError) return err;
  return new TenementError('internal', 'internal error', { cause: err });
}
