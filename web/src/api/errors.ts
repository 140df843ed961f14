// Error shape of the Copydesk API and the error class every call throws.

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: { fields?: Record<string, string>; [k: string]: unknown };
  };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorBody['error']['details'];
  readonly retryAfter: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details?: ErrorBody['error']['details'],
    retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Field-level errors from `error.details.fields`, if any. */
  get fields(): Record<string, string> {
    const f = this.details?.fields;
    return f && typeof f === 'object' ? f : {};
  }
}

/** Normalise anything thrown into an ApiError (for display). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) return new ApiError(0, 'client_error', e.message);
  return new ApiError(0, 'client_error', String(e));
}
