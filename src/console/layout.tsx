/**
 * @module layout
 * The page shell every console page is rendered in: a skip link, the top
 * bar with the sections the signed-in person's roles open, who is signed in
 * and a sign-out button, and the page's own content. Sections a role cannot
 * use are not shown; the access check on each route is what enforces it.
 */
import type { Child } from "hono/jsx";
import type { AdminRole, Principal } from "../schema/admin-principal";

export interface PageContext {
  principal?: Principal;
  csrf?: string;
  /** The section the page belongs to, to mark it in the navigation. */
  section?: string;
}

const SECTIONS: Array<{ id: string; label: string; href: string; roles: AdminRole[] }> = [
  { id: "approvals", label: "Approvals", href: "/console/approvals", roles: ["approver"] },
  { id: "decisions", label: "Decisions", href: "/console/decisions", roles: ["auditor"] },
  { id: "insights", label: "Insights", href: "/console/insights", roles: ["auditor"] },
  { id: "policy", label: "Policy", href: "/console/policy", roles: ["publisher", "operator", "auditor"] },
  { id: "sessions", label: "Sessions & breakers", href: "/console/sessions", roles: ["operator"] },
  { id: "registry", label: "Agents", href: "/console/registry", roles: ["agent_admin", "operator", "auditor"] },
  { id: "alerts", label: "Alerts", href: "/console/alerts", roles: ["operator", "auditor"] },
];

export function sectionsFor(principal: Principal): typeof SECTIONS {
  return SECTIONS.filter((section) => section.roles.some((role) => principal.roles.includes(role)));
}

export function Page(props: { title: string; context: PageContext; children?: Child; scripts?: boolean }) {
  const { principal, csrf, section } = props.context;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Tollgate console`}</title>
        <link rel="stylesheet" href="/console/static/console.css" />
        {props.scripts ? <script src="/console/static/console.js" defer></script> : null}
      </head>
      <body>
        <a class="skip" href="#content">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/console">
            Tollgate console
          </a>
          {principal ? (
            <nav class="main" aria-label="Sections">
              <ul>
                {sectionsFor(principal).map((s) => (
                  <li>
                    <a href={s.href} aria-current={s.id === section ? "page" : undefined}>
                      {s.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
          {principal ? (
            <div class="who">
              <span>
                Signed in as <strong>{principal.subject}</strong> ({principal.roles.join(", ")}; {principal.scopes.join(", ")})
              </span>
              <form class="inline" method="post" action="/console/sign-out">
                <input type="hidden" name="_csrf" value={csrf} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          ) : null}
        </header>
        <main id="content" tabindex={-1}>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A badge that says an outcome or status in words, coloured by its class. */
export function Badge(props: { value: string }) {
  return <span class={`badge ${props.value}`}>{props.value.replace(/_/g, " ")}</span>;
}

/** A time as the reader's UTC timestamp, machine-readable too. */
export function Time(props: { at: string | number | null | undefined }) {
  if (props.at === null || props.at === undefined) return <span class="muted">—</span>;
  const iso = new Date(props.at).toISOString();
  return <time datetime={iso}>{iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")}</time>;
}

/** The tenants a principal's scopes name; `all` when it holds `*` (then a tenant must be typed in). */
export function tenantsOf(principal: Principal): { tenants: string[]; all: boolean } {
  return {
    tenants: principal.scopes.filter((scope) => scope.startsWith("tenant:")).map((scope) => scope.slice("tenant:".length)),
    all: principal.scopes.includes("*"),
  };
}

/** Links to each of the principal's tenants for a section, and a field for any tenant when it covers all. */
export function TenantChooser(props: { principal: Principal; base: string; what: string }) {
  const { tenants, all } = tenantsOf(props.principal);
  return (
    <div>
      {tenants.length > 0 ? (
        <ul>
          {tenants.map((tenant) => (
            <li>
              <a href={`${props.base}/${encodeURIComponent(tenant)}`}>{tenant}</a>
            </li>
          ))}
        </ul>
      ) : null}
      {all ? (
        // To the section's own page, which takes `?tenant=` to that tenant's (any path below it names a tenant itself).
        <form class="search" method="get" action={props.base}>
          <label>
            Tenant
            <input name="tenant" required pattern="[a-z0-9][a-z0-9-]{0,62}" autocomplete="off" />
          </label>
          <button type="submit">Show {props.what}</button>
        </form>
      ) : null}
      {tenants.length === 0 && !all ? <p class="empty">Your token covers no tenant, so there is nothing to show here. Ask for a token scoped to the tenants you look after.</p> : null}
    </div>
  );
}
