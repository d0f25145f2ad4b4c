/**
 * @module gateway-context
 * What every gateway handler works with once a request is authenticated
 * and its session opened: who asks (from the credential), the upstream (as
 * the tenant registered it), the MCP session, and where the request came
 * from. Identity never comes from the message.
 */
import type { RequestLocation } from "../decision/region";
import type { Identity } from "../identity/types";
import type { ResolvedServer } from "./server-cache";
import type { GatewaySession } from "./session-id";
import type { UpstreamTarget } from "./upstream-call";
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from "./upstream-schema";

export interface GatewayContext {
  env: Env;
  background: (work: Promise<unknown>) => void;
  identity: Identity;
  server: ResolvedServer;
  session: GatewaySession;
  location?: RequestLocation;
  colo: string;
  /** The request's URL, for links back to this deployment (the approval console). */
  requestUrl: string;
}

export function targetOf(context: GatewayContext): UpstreamTarget {
  return { server: context.server, session: context.session.upstream, protocol: context.session.protocol };
}

export const timeoutOf = (context: { server: ResolvedServer }) => context.server.config.timeout_ms ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
