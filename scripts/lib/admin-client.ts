/**
 * @module admin-client
 * Calls the admin API of a Tollgate deployment for the CLI. The URL and
 * token come from flags or TOLLGATE_URL / TOLLGATE_TOKEN; an error response
 * becomes an Error carrying the API's code and message.
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
