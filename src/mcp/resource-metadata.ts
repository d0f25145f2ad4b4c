/**
 * @module resource-metadata
 * RFC 9728 protected-resource metadata for each gateway endpoint,
 * `GET /.well-known/oauth-protected-resource/mcp/<server>`: what the
 * resource is, that tokens go in the Authorization header, and the
 * authorization servers that issue them (MCP_AUTHORIZATION_SERVERS, the
 * issuers the deployment's tenants use; a tenant's agents may also present
 * agent keys, which need no authorization server). Public, like the
 * well-known documents it follows; it names no tenant and no upstream.
 */
import { Hono } from "hono";
import { ApiError } from "../errors";
import { resourceUrl } from "./gateway-auth";
import { SERVER_NAME_MESSAGE, SERVER_NAME_PATTERN } from "./upstream-schema";

function authorizationServers(env: Env): string[] {
  return (env.MCP_AUTHORIZATION_SERVERS ?? "")
    .split(",")
    .map((issuer) => issuer.trim())
    .filter(Boolean);
}

export const resourceMetadataRoute = new Hono<{ Bindings: Env }>().get("/mcp/:server", (c) => {
  const server = c.req.param("server");
  if (!SERVER_NAME_PATTERN.test(server)) throw new ApiError(404, "not_found", SERVER_NAME_MESSAGE);
  const servers = authorizationServers(c.env);
  c.header("cache-control", "public, max-age=300");
  return c.json({
    resource: resourceUrl(c.req.url, server),
    ...(servers.length > 0 ? { authorization_servers: servers } : {}),
    bearer_methods_supported: ["header"],
    resource_name: `Tollgate MCP gateway: ${server}`,
  });
});
