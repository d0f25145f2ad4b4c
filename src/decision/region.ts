/**
 * @module region
 * Which region governs a request. One deployment serves every location, so
 * the region is resolved per request: the tenant's pinned region when its
 * tenant layer declares one (data residency), else the request's location
 * as the platform reports it (`request.cf` country, then continent) mapped
 * through the table in the signed global layer (`params.regions`). A
 * location the table does not map is governed by its `default`; a request
 * with no location at all (local development) by EDGE_REGION.
 */

export interface RegionResolution {
  region: string;
  /** Why: `tenant_pin`, `country:DE`, `continent:EU`, `unmapped_location`, `local_default`. */
  source: string;
}

export interface RequestLocation {
  country?: string;
  continent?: string;
}

export const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;
/** The region with no layer of its own: the global layer governs alone. */
export const GLOBAL_REGION = "global";

interface RegionTable {
  countries?: Record<string, unknown>;
  continents?: Record<string, unknown>;
  default?: unknown;
}

const regionOr = (value: unknown): string | undefined => (typeof value === "string" && REGION_PATTERN.test(value) ? value : undefined);

export function resolveRegion(pin: string | undefined, table: unknown, location: RequestLocation | undefined, localDefault: string): RegionResolution {
  if (pin !== undefined) return { region: pin, source: "tenant_pin" };
  const { countries = {}, continents = {}, default: fallback } = (typeof table === "object" && table !== null ? table : {}) as RegionTable;
  const country = location?.country;
  const continent = location?.continent;
  if (!country && !continent) return { region: localDefault, source: "local_default" };
  const byCountry = country && Object.hasOwn(countries, country) ? regionOr(countries[country]) : undefined;
  if (byCountry) return { region: byCountry, source: `country:${country}` };
  const byContinent = continent && Object.hasOwn(continents, continent) ? regionOr(continents[continent]) : undefined;
  if (byContinent) return { region: byContinent, source: `continent:${continent}` };
  return { region: regionOr(fallback) ?? GLOBAL_REGION, source: "unmapped_location" };
}

/** What the platform says about where a request came from; absent in local development. */
export function locationOf(request: Request): RequestLocation | undefined {
  const cf = (request as { cf?: { country?: unknown; continent?: unknown } }).cf;
  if (!cf) return undefined;
  const country = typeof cf.country === "string" ? cf.country : undefined;
  const continent = typeof cf.continent === "string" ? cf.continent : undefined;
  return country || continent ? { country, continent } : undefined;
}
