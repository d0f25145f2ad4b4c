/**
 * @module tenant-id
 * What a tenant id looks like, in one place: the decision input, scopes
 * (`tenant:<id>`) and every route that takes a tenant check against it.
 */
export const TENANT_ID = "[a-z0-9][a-z0-9-]{0,62}";
export const TENANT_PATTERN = new RegExp(`^${TENANT_ID}$`);
export const TENANT_ID_MESSAGE = "tenant ids are lowercase letters, digits and dashes";
