// What the time bounds of a query mean, for every face (the console's Jobs filters and
// `coffer job list --from/--to` alike): a bound names a whole span at the precision it is written
// in. "To 21:49" includes every job the list shows as 21:49, i.e. up to 21:49:59.999; "to
// 2026-12-01" includes that whole day. And a bound is a year people mean (not 202609).

/** Years a date field or a query bound may name. */
export const SANE_YEARS = { min: 1970, max: 9999 } as const;

const MINUTE = /T\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2})?$/i;
const SECOND = /T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2})?$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether an instant falls in a year of SANE_YEARS. */
export function isSaneInstant(ms: number): boolean {
  if (!Number.isFinite(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= SANE_YEARS.min && year <= SANE_YEARS.max;
}

/** The first instant of what a bound names (NaN when it is no date). */
export function startOfBound(bound: string): number {
  return Date.parse(bound);
}

/** The first instant after what a bound names: its minute, second or day, or the instant itself. */
export function endOfBound(bound: string): number {
  const start = Date.parse(bound);
  if (Number.isNaN(start)) return NaN;
  if (DAY.test(bound)) return start + 86_400_000;
  if (MINUTE.test(bound)) return start + 60_000;
  if (SECOND.test(bound)) return start + 1000;
  return start + 1;
}

/** Whether something created at `createdAt` (ISO) falls within the bounds, as the list shows times. */
export function withinBounds(createdAt: string, from?: string, to?: string): boolean {
  const t = Date.parse(createdAt);
  if (from && t < startOfBound(from)) return false;
  if (to && t >= endOfBound(to)) return false;
  return true;
}

/** A From after To names no time at all: the query is refused rather than shown empty. */
export function boundsInOrder(from?: string, to?: string): boolean {
  return !from || !to || startOfBound(from) < endOfBound(to);
}
