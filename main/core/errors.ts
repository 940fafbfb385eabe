import { errorCatalog, type ApiError, type ErrorCode } from '../../preload/errors.js';

/**
 * The one error type the engine throws on purpose. The router turns it into
 * `{ok:false, error}`; anything else becomes `Internal`.
 */
export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly remedy: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, remedy?: string) {
    super(message ?? errorCatalog[code].message);
    this.name = 'CofferError';
    this.code = code;
    this.remedy = remedy ?? errorCatalog[code].remedy;
    this.details = details;
  }

  toApiError(): ApiError {
    const e: ApiError = { code: this.code, message: this.message, remedy: this.remedy };
    if (this.details) e.details = this.details;
    return e;
  }
}

export function isCofferError(e: unknown, code?: ErrorCode): e is CofferError {
  return e instanceof CofferError && (code === undefined || e.code === code);
}

/** A write that failed for want of room: a full filesystem (ENOSPC) or a used-up quota (EDQUOT). */
export function isOutOfSpace(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * A write into a restore target that ran out of room as RestoreTargetFull naming the target: the
 * admin's disk is full, not the vault's storage (StorageFull, mapStoreError). Other errors pass as they are.
 */
export function restoreTargetError(e: unknown, target: string): unknown {
  if (!isOutOfSpace(e)) return e;
  return new CofferError('RestoreTargetFull', `The restore target ${target} ran out of space; the partly restored files were removed.`, { target, cause: e.code });
}

/** Any thrown value as an API error; unexpected ones become `Internal` with their message kept. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof CofferError) return e.toApiError();
  const err = e as NodeJS.ErrnoException | undefined;
  if (err?.code === 'ENOSPC') return new CofferError('StorageFull').toApiError();
  return new CofferError('Internal', `${errorCatalog.Internal.message} ${err?.message ?? String(e)}`).toApiError();
}
