/**
 * Errors a module's service raises without knowing about HTTP; the server turns them into
 * problem+json (not_found 404, invalid 400, conflict 409, busy 429 with Retry-After), the CLI into
 * a message and exit code 1.
 */
export type ServiceErrorKind = 'not_found' | 'invalid' | 'conflict' | 'busy';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    /** for busy: when to try again, seconds */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
