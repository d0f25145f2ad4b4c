/**
 * @module section-page
 * What every console section shares: the page context a signed-in person's
 * page is drawn with (who they are, the form token, the section marked in
 * the navigation), and the section's first page, which lets them pick one
 * of the tenants their token covers (or type one, if it covers them all).
 */
import type { Context } from "hono";
import { tenantParam } from "../routes/admin-params";
import type { ConsoleVariables } from "./console-access";
import { csrfToken } from "./console-session";
import { Page, TenantChooser, type PageContext } from "./layout";

export type ConsoleContext = Context<{ Bindings: Env; Variables: ConsoleVariables }>;

export async function sectionContext(c: ConsoleContext, section: string): Promise<PageContext> {
  const session = c.get("session");
  return { principal: session.principal, csrf: await csrfToken(c.env, session), section };
}

/** `/console/<section>`: the tenant chooser; `?tenant=` goes straight to that tenant's page. */
export function tenantChooserPage(section: string, title: string, what: string, intro?: string) {
  return async (c: ConsoleContext) => {
    const typed = c.req.query("tenant");
    if (typed !== undefined) return c.redirect(`/console/${section}/${tenantParam(typed)}`, 303);
    const context = await sectionContext(c, section);
    return c.html(
      <Page title={title} context={context}>
        <h1>{title}</h1>
        {intro ? <p>{intro}</p> : null}
        <TenantChooser principal={context.principal!} base={`/console/${section}`} what={what} />
      </Page>,
    );
  };
}
