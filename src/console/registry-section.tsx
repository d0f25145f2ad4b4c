/**
 * @module registry-section
 * A tenant's agents, as its registry holds them: owner, role, tiers,
 * certification dates (lapsed and soon-lapsing ones marked), and keys, with
 * revocation for its identity admins.
 *
 *   GET  /console/registry/:tenant                     (GET /v1/admin/registry/:tenant/agents)
 *   POST /console/registry/:tenant/keys/:key/revoke    (DELETE /v1/admin/registry/:tenant/keys/:key)
 *
 * A revocation is recorded in the registry's change record with who made
 * it; this edge stops accepting the key at once, every other within one
 * refresh interval.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { registryObject } from "../identity/registry-cache";
import { tenantParam } from "../routes/admin-params";
import { changed, refused } from "../routes/admin-registry";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";
import { checkCsrf } from "./console-session";
import { readForm } from "./form-body";
import { Badge, Page, Time } from "./layout";

const DAY_MS = 86_400_000;

const pageContext = (c: ConsoleContext) => sectionContext(c, "registry");

const revokeForm = z.strictObject({ _csrf: z.string() });

function Certification(props: { until: string; now: number }) {
  const at = Date.parse(props.until);
  if (at <= props.now) return <><Badge value="expired" /> lapsed <Time at={props.until} /></>;
  const days = Math.floor((at - props.now) / DAY_MS);
  return days <= 30 ? <><Badge value="pending" /> until <Time at={props.until} /> ({days} days left)</> : <>until <Time at={props.until} /></>;
}

export const registrySection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/registry", tenantChooserPage("registry", "Agents", "agents"))
  .get("/registry/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const agents = await registryObject(c.env, tenant).list();
    const context = await pageContext(c);
    const principal = context.principal!;
    const canRevoke = principal.roles.includes("agent_admin");
    const now = Date.now();
    const notice = c.req.query("done") === "revoked" ? "Key revoked. This edge refuses it now; every other edge within one refresh interval." : undefined;
    return c.html(
      <Page title={`Agents of ${tenant}`} context={context}>
        <h1>Agents of {tenant}</h1>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        {agents.length === 0 ? (
          <p class="empty">No agent is registered with {tenant}. Register one with tollgate agent register.</p>
        ) : (
          agents.map((agent) => (
            <section class="panel" aria-labelledby={`agent-${agent.agent}`}>
              <h2 id={`agent-${agent.agent}`}>{agent.agent}</h2>
              <dl class="facts">
                <dt>Owner</dt>
                <dd>{agent.registration.owner}</dd>
                <dt>Role</dt>
                <dd>{agent.registration.role}</dd>
                <dt>Tiers</dt>
                <dd>
                  {agent.registration.risk_tier} to {agent.registration.max_risk_tier}
                </dd>
                <dt>Certified</dt>
                <dd>
                  <Certification until={agent.registration.certified_until} now={now} />
                </dd>
                <dt>Registered</dt>
                <dd>
                  <Time at={agent.created_at} />, last changed <Time at={agent.updated_at} />
                </dd>
              </dl>
              {agent.keys.length === 0 ? (
                <p class="muted">No key; the agent may still present its tenant's JWTs.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Key</th>
                      <th scope="col">Label</th>
                      <th scope="col">Issued</th>
                      <th scope="col">Expires</th>
                      <th scope="col">Status</th>
                      {canRevoke ? <th scope="col">Revoke</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {agent.keys.map((key) => (
                      <tr>
                        <td>
                          <code>{key.key_id}</code>
                        </td>
                        <td>{key.label ?? "—"}</td>
                        <td>
                          <Time at={key.created_at} /> by {key.created_by}
                        </td>
                        <td>{key.expires_at ? <Time at={key.expires_at} /> : "never"}</td>
                        <td>{key.revoked_at ? <><Badge value="rejected" /> revoked <Time at={key.revoked_at} /> by {key.revoked_by}</> : <Badge value="ok" />}</td>
                        {canRevoke ? (
                          <td>
                            {key.revoked_at ? null : (
                              <form class="inline" method="post" action={`/console/registry/${tenant}/keys/${key.key_id}/revoke`}>
                                <input type="hidden" name="_csrf" value={context.csrf} />
                                <button class="reject" type="submit" aria-label={`Revoke key ${key.key_id} of ${agent.agent}`}>
                                  Revoke
                                </button>
                              </form>
                            )}
                          </td>
                        ) : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))
        )}
      </Page>,
    );
  })
  .post("/registry/:tenant/keys/:key/revoke", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const keyId = c.req.param("key");
    if (!/^k[0-9a-f]{16}$/.test(keyId)) throw new ApiError(400, "invalid_key_id", "key ids look like k<16 hex digits>", "key");
    const session = c.get("session");
    await readForm(c, revokeForm, (fields) => checkCsrf(c.env, session, fields._csrf));
    const outcome = await registryObject(c.env, tenant).revokeKey(keyId, session.principal.subject);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant);
    return c.redirect(`/console/registry/${tenant}?done=revoked`, 303);
  });
