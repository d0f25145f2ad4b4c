/**
 * @module gateway-auth
 * The gateway as an OAuth 2.1 resource server (MCP authorization, RFC 9728):
 * bearer credentials are verified by the same machinery as every agent
 * route (identity/authenticate.ts: the tenant's JWTs, agent keys, sub-agent
 * credentials), and a request without one, or with one that does not
 * verify, gets 401 with a `WWW-Authenticate` challenge whose
 * `resource_metadata` points at this server's protected-resource metadata.
 * Browsers' cross-origin requests are refused (403) unless the origin is
 * the gateway's own or listed in MCP_ALLOWED_ORIGINS: MCP asks servers to
 * check `Origin` against DNS rebinding.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import { authenticate, REALM } from "../identity/authenticate";
import type { AgentEnv } from "../middleware/agent-auth";

/** RFC 9728 §3.1: the metadata of resource `<origin>/mcp/<server>` is at the well-known path with the resource's path appended. */
export function metadataUrl(requestUrl: string, server: string): string {
  return `${new URL(requestUrl).origin}/.well-known/oauth-protected-resource/mcp/${encodeURIComponent(server)}`;
}

export function resourceUrl(requestUrl: string, server: string): string {
  return `${new URL(requestUrl).origin}/mcp/${encodeURIComponent(server)}`;
}

function allowedOrigins(env: Env): string[] {
  return (env.MCP_ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);
}

export function gatewayAuth(): MiddlewareHandler<AgentEnv> {
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== new URL(c.req.url).origin && !allowedOrigins(c.env).includes(origin)) {
      throw new ApiError(403, "origin_not_allowed", `requests from origin ${origin} are not accepted`);
    }
    const server = c.req.param("server") ?? "";
    try {
      c.set("identity", await authenticate(c.req.header("authorization"), { env: c.env, nowMs: Date.now(), background: (work) => c.executionCtx.waitUntil(work) }));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      // The same refusal, with the challenge MCP clients follow to find how to get a token.
      const invalid = error.code === "invalid_credential" ? `, error="invalid_token", error_description="${error.message.replaceAll('"', "'")}"` : "";
      throw new ApiError(401, error.code, error.message, undefined, {
        "www-authenticate": `Bearer realm="${REALM}", resource_metadata="${metadataUrl(c.req.url, server)}"${invalid}`,
      });
    }
    await next();
  };
}
