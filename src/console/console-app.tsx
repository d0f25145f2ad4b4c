/**
 * @module console-app
 * The console, served by the Worker at /console: server-rendered pages
 * (Hono JSX), one stylesheet and one small script for live updates. Read
 * here top to bottom: security headers on everything, the static files and
 * the sign-in (the only routes open without a session), then the session,
 * Hono's CSRF origin check, the access check against the admin API's table
 * (console-access.ts), and the sections.
 */
import { Hono, type Context } from "hono";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { ApiError } from "../errors";
import { alertsSection } from "./alerts-section";
import { approvalsSection } from "./approvals-section";
import { decisionsSection } from "./decisions-section";
import { insightsSection } from "./insights-section";
import { policySection } from "./policy-section";
import { registrySection } from "./registry-section";
import { sessionsSection } from "./sessions-section";
import { CONSOLE_JS } from "./client-script";
import { consoleAccess, type ConsoleVariables } from "./console-access";
import { CONSOLE_CSS } from "./console-styles";
import { checkCsrf, csrfToken, currentSession, sessionKey, signIn, signOut } from "./console-session";
import { readForm } from "./form-body";
import { Page, sectionsFor } from "./layout";

type ConsoleEnv = { Bindings: Env; Variables: ConsoleVariables };

/** Where sign-in may send a person back to: a console path of this origin, nothing else. */
export function safeNext(next: string | undefined): string {
  if (!next || next.length > 2000 || next.includes("//") || next.includes("\\") || /%2e|%2f|%5c/i.test(next)) return "/console";
  // A dot segment would walk out of /console once the browser resolves it.
  if (next.split(/[?#]/)[0].split("/").some((segment) => segment === "." || segment === "..")) return "/console";
  return /^\/console(?:\/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$/.test(next) && !next.startsWith("/console/sign-") ? next : "/console";
}

function SignInPage(props: { next: string; error?: string; closed?: string }) {
  return (
    <Page title="Sign in" context={{}}>
      <h1>Sign in</h1>
      <p>
        Sign in with your Tollgate admin token (from <code>tollgate token create</code>). The console shows and lets you do exactly what the token may do through the admin API.
      </p>
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      {props.closed ? (
        <p class="error" role="alert">
          {props.closed}
        </p>
      ) : (
        <form class="stack" method="post" action="/console/sign-in">
          <input type="hidden" name="next" value={props.next} />
          <label>
            Admin token
            <input type="password" name="token" required autocomplete="off" autofocus maxlength={512} />
          </label>
          <div class="actions">
            <button class="primary" type="submit">
              Sign in
            </button>
          </div>
        </form>
      )}
      <p class="muted">The session lasts 8 hours. The token itself is never stored in your browser.</p>
    </Page>
  );
}

const signInForm = z.strictObject({ token: z.string().min(1, "paste your admin token").max(512), next: z.string().max(2000).optional() });
const signOutForm = z.strictObject({ _csrf: z.string() });

/** What each status means to a person, and what to do about it. */
const ADVICE: Record<number, string> = {
  400: "Something in the address or the form is not valid. Check it and try again.",
  401: "You are not signed in, or your session has ended.",
  403: "Your token does not allow this. Ask for a token with the right role and scope.",
  404: "There is nothing here. The link may be wrong, or the item may have been removed.",
  409: "Someone else got there first. Reload to see the current state.",
  413: "The form is too large.",
  415: "The form was not sent by the console.",
  503: "Tollgate is not configured for this yet.",
};

export function consoleErrorPage(c: Context, error: Error): Response | Promise<Response> {
  let status = 500;
  let message = "Something went wrong on our side. Try again; if it keeps happening, tell your Tollgate operators the time it happened.";
  if (error instanceof ApiError) {
    status = error.status;
    message = error.message;
  } else if (error instanceof HTTPException) {
    status = error.status;
    message = status === 403 ? "This form did not come from the console (its origin was not this site). Open the page again and resubmit." : error.message || "request rejected";
  } else {
    console.error("unhandled console error", error);
  }
  const path = c.req.path;
  return c.html(
    <Page title="Problem" context={{}}>
      <h1>{status === 404 ? "Not found" : status === 403 ? "Not allowed" : status >= 500 ? "Could not load this page" : "Could not do that"}</h1>
      <p class="error" role="alert">
        {message}
      </p>
      <p>{ADVICE[status] ?? ""}</p>
      <p>
        {status === 401 ? <a href={`/console/sign-in?next=${encodeURIComponent(safeNext(path))}`}>Sign in</a> : <a href="/console">Back to the console</a>}
      </p>
    </Page>,
    status as 400,
    { "cache-control": "no-store" },
  );
}

export const consoleApp = new Hono<ConsoleEnv>();

consoleApp.use(
  "*",
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"],
    },
  }),
);

consoleApp.get("/static/console.css", (c) => c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }));
consoleApp.get("/static/console.js", (c) => c.body(CONSOLE_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }));

// Nothing a console page shows may be kept by a shared cache or the browser's back-forward cache.
consoleApp.use("*", async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
});

// Every change must come from this origin (Origin or Sec-Fetch-Site), sign-in included.
consoleApp.use("*", csrf());

function closedReason(env: Env): string | undefined {
  try {
    sessionKey(env);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

consoleApp.get("/sign-in", async (c) => {
  const next = safeNext(c.req.query("next"));
  const closed = closedReason(c.env);
  // Only a shortcut past the form: a session that cannot be checked now gets the form.
  if (!closed && (await currentSession(c).catch(() => undefined))) return c.redirect(next, 303);
  return c.html(<SignInPage next={next} closed={closed} />, closed ? 503 : 200);
});

consoleApp.post("/sign-in", async (c) => {
  const form = await readForm(c, signInForm, async () => undefined);
  const next = safeNext(form.next);
  try {
    await signIn(c, form.token);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return c.html(<SignInPage next={next} error={error.message} />, 401);
    throw error;
  }
  return c.redirect(next, 303);
});

// Everything below needs a session; a page asked for without one sends the person to sign in and back.
consoleApp.use("*", async (c, next) => {
  const session = await currentSession(c);
  if (!session) {
    if (c.req.method === "GET" && !c.req.path.endsWith("/live")) {
      const url = new URL(c.req.url);
      return c.redirect(`/console/sign-in?next=${encodeURIComponent(safeNext(url.pathname + url.search))}`, 303);
    }
    throw new ApiError(401, "unauthenticated", "your console session has ended or was never started; sign in again");
  }
  c.set("session", session);
  await next();
});

consoleApp.use("*", consoleAccess());

consoleApp.post("/sign-out", async (c) => {
  await readForm(c, signOutForm, (fields) => checkCsrf(c.env, c.get("session"), fields._csrf));
  await signOut(c, c.get("session"));
  return c.redirect("/console/sign-in", 303);
});

consoleApp.get("/", async (c) => {
  const session = c.get("session");
  const sections = sectionsFor(session.principal);
  return c.html(
    <Page title="Home" context={{ principal: session.principal, csrf: await csrfToken(c.env, session) }}>
      <h1>Welcome, {session.principal.subject}</h1>
      <p>
        Your token holds the role{session.principal.roles.length === 1 ? "" : "s"} <strong>{session.principal.roles.join(", ")}</strong> over <strong>{session.principal.scopes.join(", ")}</strong>. Everything here follows it exactly, as the admin API does.
      </p>
      {sections.length === 0 ? (
        <p class="empty">No section of the console is open to your roles.</p>
      ) : (
        <ul>
          {sections.map((s) => (
            <li>
              <a href={s.href}>{s.label}</a>
            </li>
          ))}
        </ul>
      )}
    </Page>,
  );
});

consoleApp.route("/", approvalsSection);
consoleApp.route("/", decisionsSection);
consoleApp.route("/", insightsSection);
consoleApp.route("/", policySection);
consoleApp.route("/", sessionsSection);
consoleApp.route("/", registrySection);
consoleApp.route("/", alertsSection);
