/**
 * A person's browser as the workerd tests drive it: signs in through the
 * console's form, keeps the session cookie, and sends forms with the CSRF
 * token the page carried and this site's Origin, as a browser would.
 */
import { exports } from "cloudflare:workers";

export const ORIGIN = "http://edge";

export interface ConsoleBrowser {
  cookie: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** Posts a form from `page` (whose CSRF token it uses unless `fields._csrf` is given). */
  post(path: string, fields: Record<string, string>, options?: { from?: string; headers?: Record<string, string> }): Promise<Response>;
  csrf(path?: string): Promise<string>;
}

export function consoleFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`${ORIGIN}${path}`, { redirect: "manual", ...init });
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** The session cookie a sign-in set (name=value), or undefined. */
export function sessionCookie(response: Response): string | undefined {
  const header = response.headers.get("set-cookie") ?? "";
  return /^((?:__Host-)?tollgate_console=[^;]+)/.exec(header)?.[1];
}

export async function signInResponse(token: string, next?: string, origin = ORIGIN): Promise<Response> {
  return consoleFetch("/console/sign-in", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    body: form({ token, ...(next ? { next } : {}) }),
  });
}

export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([0-9a-f]{64})"/.exec(html);
  if (!match) throw new Error("no CSRF token on the page");
  return match[1];
}

export async function signIn(token: string): Promise<ConsoleBrowser> {
  const response = await signInResponse(token);
  if (response.status !== 303) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = sessionCookie(response);
  if (!cookie) throw new Error("sign-in set no session cookie");
  const browser: ConsoleBrowser = {
    cookie,
    get: (path, headers = {}) => consoleFetch(path, { headers: { cookie, ...headers } }),
    csrf: async (path = "/console") => csrfOf(await (await browser.get(path)).text()),
    post: async (path, fields, options = {}) => {
      const token = fields._csrf ?? (await browser.csrf(options.from));
      return consoleFetch(path, {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, ...(options.headers ?? {}) },
        body: form({ ...fields, _csrf: token }),
      });
    },
  };
  return browser;
}
