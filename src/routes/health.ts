/**
 * @module health
 * `GET /healthz`: liveness for load balancers; cheap and dependency-free.
 */
import { Hono } from "hono";

export const healthRoute = new Hono<{ Bindings: Env }>().get("/", (c) =>
  c.json({ status: "ok", location: c.env.EDGE_LOCATION, region: c.env.EDGE_REGION }),
);
