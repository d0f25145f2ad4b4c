/**
 * @module admin-client
 * Calls the admin API of a Tollgate deployment for the CLI. The URL and
 * token come from flags or TOLLGATE_URL / TOLLGATE_TOKEN; an error response
 * becomes an Error carrying the API's code and message. A long answer (the
 * audit export) is read line by line as it arrives.
 */
export interface AdminTarget {
  url: string;
  token: string;
}

export class AdminApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

export function adminTarget(flags: { url?: string; token?: string }): AdminTarget {
  const url = flags.url ?? process.env.TOLLGATE_URL;
  const token = flags.token ?? process.env.TOLLGATE_TOKEN;
  if (!url) throw new Error("no deployment: pass --url or set TOLLGATE_URL");
  if (!token) throw new Error("no admin token: pass --token or set TOLLGATE_TOKEN");
  return { url: url.replace(/\/$/, ""), token };
}

/** A GET whose answer is JSON lines, read as they arrive: a long answer is never held whole. */
export async function* adminLines(target: AdminTarget, path: string): AsyncGenerator<string> {
  const response = await fetch(`${target.url}/v1/admin${path}`, { headers: { authorization: `Bearer ${target.token}` } });
  if (!response.ok || !response.body) {
    const payload = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    throw new AdminApiError(response.status, payload.error?.code ?? "http_error", payload.error?.message ?? response.statusText);
  }
  // Node's web streams are async iterable; the DOM typings in use do not say so.
  yield* splitLines(response.body.pipeThrough(new TextDecoderStream()) as unknown as AsyncIterable<string>);
}

/** Lines of a text stream, without their newline; a last line without one is kept. */
export async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let partial = "";
  for await (const chunk of chunks) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    yield* lines;
  }
  if (partial.length > 0) yield partial;
}

export async function adminCall<T>(target: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${target.url}/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) throw new AdminApiError(response.status, payload.error?.code ?? "http_error", payload.error?.message ?? response.statusText);
  return payload as T;
}
