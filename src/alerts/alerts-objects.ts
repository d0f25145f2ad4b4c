/**
 * @module alerts-objects
 * Where a tenant's alert webhooks and delivery record live: one AlertsDO per tenant.
 */
export function alertsObject(env: Env, tenant: string) {
  return env.ALERTS.get(env.ALERTS.idFromName(tenant));
}
