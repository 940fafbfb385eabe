// Typed access to window.coffer: call() unwraps the Result and throws ApiCallError; useApi()
// loads a method's result into state, reloading on engine events and on reconnect; useAction()
// runs a user's action with its busy flag and its error.
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorCatalog, finishedStatuses, type ApiError, type ArgsOf, type EventName, type EventPayload, type Job, type MethodName, type Result, type ResultOf } from '../../preload/contract.js';

export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly method: MethodName,
    readonly error: ApiError,
  ) {
    super(`${method}: ${error.code}: ${error.message}`);
  }
  get code(): ApiError['code'] {
    return this.error.code;
  }
}

function unreachable(method: MethodName, reason: string): ApiCallError {
  return new ApiCallError(method, {
    code: 'EngineUnreachable',
    ...errorCatalog.EngineUnreachable,
    details: { reason },
  });
}

/** Calls an engine method; resolves with its value or throws an ApiCallError. */
export async function call<M extends MethodName>(method: M, args: ArgsOf<M>): Promise<ResultOf<M>> {
  const api = window.coffer;
  if (!api) throw unreachable(method, 'window.coffer is not defined');
  const fn = api[method] as unknown as (a: ArgsOf<M>) => Promise<Result<ResultOf<M>>>;
  let result: Result<ResultOf<M>>;
  try {
    result = await fn(args);
  } catch (err) {
    throw unreachable(method, err instanceof Error ? err.message : String(err));
  }
  if (!result.ok) throw new ApiCallError(method, result.error);
  return result.value;
}

/** Turns anything thrown into an ApiError to display. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiCallError) return err.error;
  return {
    code: 'Internal',
    message: err instanceof Error ? err.message : String(err),
    remedy: errorCatalog.Internal.remedy,
  };
}

/** Subscribes to an engine event for the lifetime of the component. */
export function useEngineEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => window.coffer?.on(event, (payload) => ref.current(payload)), [event]);
}

/** Whether the engine is reachable; starts optimistic so no banner flashes while connecting. */
export function useConnection(): boolean {
  const [connected, setConnected] = useState(true);
  useEffect(() => window.coffer?.onConnection(setConnected), []);
  return connected;
}

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

export interface UseApiOptions {
  /** Engine events after which the data is loaded again. */
  refreshOn?: readonly EventName[];
  /**
   * Coalesces event-driven reloads into one per this many ms (a running backup sends many
   * jobUpdated progress events; a dashboard needs one refetch, not hundreds). Default 250.
   */
  coalesceMs?: number;
}

/**
 * Loads `method(args)` and keeps it fresh. Args are compared by value (JSON), so inline object
 * literals are fine. `undefined` args mean "no call yet" (e.g. while no vault is chosen): the
 * last data stays and nothing is asked. Responses that arrive out of order are ignored.
 */
export function useApi<M extends MethodName>(method: M, args: ArgsOf<M> | undefined, options: UseApiOptions = {}): ApiState<ResultOf<M>> {
  const { refreshOn = [], coalesceMs = 250 } = options;
  const key = args === undefined ? undefined : JSON.stringify(args);
  const enabled = key !== undefined;
  const [state, setState] = useState<{ data?: ResultOf<M>; error?: ApiError; loading: boolean }>({ loading: enabled });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const seq = useRef(0);

  useEffect(() => {
    if (key === undefined) return;
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    call(method, JSON.parse(key) as ArgsOf<M>).then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (err: unknown) => mine === seq.current && setState((s) => ({ data: s.data, error: toApiError(err), loading: false })),
    );
  }, [method, key, tick]);

  const events = refreshOn.join(',');
  useEffect(() => {
    const api = window.coffer;
    if (!api) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onEvent = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        reload();
      }, coalesceMs);
    };
    const offs = events ? events.split(',').map((e) => api.on(e as EventName, onEvent)) : [];
    offs.push(() => timer !== undefined && clearTimeout(timer));
    let wasConnected = true;
    offs.push(
      api.onConnection((connected) => {
        if (connected && !wasConnected) reload();
        wasConnected = connected;
      }),
    );
    return () => offs.forEach((off) => off());
  }, [events, reload, coalesceMs]);

  return { ...state, reload } as ApiState<ResultOf<M>>;
}

export interface Action {
  /** Some run of this action is in flight. */
  busy: boolean;
  /** The key of the run in flight (e.g. the row whose button was pressed). */
  busyKey: string | undefined;
  /** The error of the last run, until the next run or clearError(). */
  error: ApiError | undefined;
  clearError(): void;
  /** Shows an error that did not come from a run (e.g. a failed event-driven reload). */
  setError(error: ApiError): void;
  /** Runs `work` with the busy flag set; resolves with its value, or undefined once the error is shown. */
  run<R>(work: () => Promise<R>, key?: string): Promise<R | undefined>;
}

export interface ActionOptions {
  /**
   * Routes a failed run's error first, e.g. a form's `placeError` that shows it beside its field;
   * true when it was placed there, so it is not also shown as the action's error (the bar).
   */
  placeError?: (error: ApiError) => boolean;
}

/** The busy flag, the error and the try/catch/finally of a button that calls the engine. */
export function useAction(options: ActionOptions = {}): Action {
  const place = useRef(options.placeError);
  place.current = options.placeError;
  const [busyKey, setBusyKey] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setErrorState] = useState<ApiError>();
  const clearError = useCallback(() => setErrorState(undefined), []);
  const setError = useCallback((e: ApiError) => setErrorState(e), []);
  const run = useCallback(async <R,>(work: () => Promise<R>, key?: string): Promise<R | undefined> => {
    setBusy(true);
    setBusyKey(key);
    setErrorState(undefined);
    try {
      return await work();
    } catch (err) {
      const e = toApiError(err);
      if (place.current?.(e) !== true) setErrorState(e);
      return undefined;
    } finally {
      setBusy(false);
      setBusyKey(undefined);
    }
  }, []);
  return { busy, busyKey, error, clearError, setError, run };
}

/**
 * A job a dialog just started and follows through `jobUpdated`: updates that arrived before its id
 * was known are missed, so the job is read once more (a finished state already seen is kept).
 */
export async function catchUpStartedJob(j: Job, setJob: (update: (cur: Job | undefined) => Job | undefined) => void): Promise<void> {
  const now = await call('showJob', { id: j.id });
  setJob((cur) => (cur?.id === now.id && !finishedStatuses.includes(cur.status) ? now : cur));
}
