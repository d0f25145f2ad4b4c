/**
 * @module edge-transport
 * Every request the SDK makes to its edge: the credential on each request,
 * a deadline for the whole call (not per attempt, so retries never make a
 * call slower than its budget), and retries with jittered backoff for what
 * may pass (a network error, a timeout, 429, 502, 503, 504). A decision is
 * retried with the same `Idempotency-Key`, so the edge commits it once
 * however many attempts reach it.
 *
 * An edge that answers 4xx refused the request: that is a `TollgateError`,
 * never retried. An edge that cannot be reached, or keeps answering 5xx, is
 * `EdgeUnreachable`, which sends the caller to its offline paths.
 */
import { TollgateError } from "./errors.ts";

export type Credential = string | (() => string | Promise<string>);

export class EdgeUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EdgeUnreachable";
  }
}

export interface TransportOptions {
  url: string;
  credential: Credential;
  fetch?: typeof fetch;
  /** The whole call's deadline, retries included (default 3000 ms). */
  timeoutMs?: number;
  /** Attempts after the first (default 2). */
  retries?: number;
}

export interface CallOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** No credential (public documents such as the edge's keys). */
  anonymous?: boolean;
}

const RETRIED_STATUSES = new Set([429, 502, 503, 504]);
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 1_000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export class EdgeTransport {
  readonly origin: URL;
  private readonly fetcher: typeof fetch;
  private readonly timeoutMs: number;
  private readonly retries: number;
  /**
   * When the edge last answered (ms since the epoch), with anything but a
   * server error: the start of any offline window. A 500 is a failing edge,
   * not contact, or an edge that keeps failing would hold the window open.
   */
  lastAnswerMs: number | undefined;

  constructor(private readonly options: TransportOptions) {
    this.origin = new URL(options.url);
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.retries = options.retries ?? 2;
  }

  private async bearer(): Promise<string> {
    const credential = typeof this.options.credential === "function" ? await this.options.credential() : this.options.credential;
    if (typeof credential !== "string" || credential.length === 0) throw new TollgateError("no credential: pass an agent key or a token", "no_credential");
    return credential;
  }

  /** JSON in, JSON out; `TollgateError` for a refusal, `EdgeUnreachable` when no answer came in time. */
  async call<T = Record<string, unknown>>(method: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
    const headers: Record<string, string> = { accept: "application/json" };
    if (!options.anonymous) headers.authorization = `Bearer ${await this.bearer()}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let lastProblem = "no attempt made";
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const signals = [AbortSignal.timeout(remaining), ...(options.signal ? [options.signal] : [])];
      let response: Response;
      try {
        response = await this.fetcher(new URL(path, this.origin), { method, headers, body, signal: AbortSignal.any(signals) });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        lastProblem = (error as Error).name === "TimeoutError" ? `no answer within ${options.timeoutMs ?? this.timeoutMs} ms` : `${(error as Error).message}`;
        await this.backoff(attempt, deadline, options.signal);
        continue;
      }
      if (RETRIED_STATUSES.has(response.status)) {
        lastProblem = `the edge answered ${response.status}`;
        await response.body?.cancel();
        await this.backoff(attempt, deadline, options.signal, response.headers.get("retry-after"));
        continue;
      }
      const text = await response.text();
      if (response.status < 500) this.lastAnswerMs = Date.now();
      let parsed: unknown;
      try {
        parsed = text.length === 0 ? {} : JSON.parse(text);
      } catch {
        if (response.status >= 500) {
          lastProblem = `the edge answered ${response.status}`;
          continue;
        }
        throw new TollgateError(`the edge answered ${response.status} with a body that is not JSON`, "bad_response", response.status);
      }
      if (response.status >= 500) {
        lastProblem = `the edge answered ${response.status}`;
        await this.backoff(attempt, deadline, options.signal);
        continue;
      }
      if (response.status >= 400) {
        const error = (parsed as { error?: { code?: string; message?: string } }).error;
        throw new TollgateError(error?.message ?? `the edge refused the request (${response.status})`, error?.code ?? "refused", response.status);
      }
      return { status: response.status, body: parsed as T, headers: response.headers };
    }
    throw new EdgeUnreachable(`${this.origin.origin} could not be reached: ${lastProblem}`);
  }

  private async backoff(attempt: number, deadline: number, signal?: AbortSignal, retryAfter?: string | null): Promise<void> {
    if (attempt >= this.retries) return;
    const asked = retryAfter && /^\d{1,3}$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
    const exponential = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
    const wait = Math.min(asked ?? exponential * (0.5 + Math.random() / 2), Math.max(0, deadline - Date.now()));
    if (wait > 0) await sleep(wait, signal);
  }
}
