/**
 * @module region
 * Which region governs a request. One deployment serves every location, so
 * the region is resolved per request: the request's location as the
 * platform reports it (`request.cf` country, then continent) mapped through
 * the table in the signed global layer (`params.regions`). A location the
 * table does not map is governed by its `default`; a request with no
 * location at all (local development) by EDGE_REGION.
 *
 * A tenant whose layer declares a residency pin is governed by the pinned
 * region wherever it calls from, and by the region of its location as well:
 * a pin adds a region's rules, it never takes away those of where the
 * request comes from. Otherwise a tenant's own publisher could pin it to a
 * looser region and leave the rules of the region it works in.
 */

export interface RegionResolution {
  region: string;
  /** Why: `tenant_pin`, `country:DE`, `continent:EU`, `unmapped_location`, `local_default`. */
  source: string;
  /** A pinned tenant's request from another region: the region its location maps to, which governs it too. */
  located?: string;
}

/** The regions whose layers govern, the pinned or located one first. */
export function governingRegions(resolution: RegionResolution): string[] {
  return resolution.located === undefined ? [resolution.region] : [resolution.region, resolution.located];
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
  const located = locatedRegion(table, location, localDefault);
  if (pin === undefined) return located;
  const alsoGoverning = located.region !== pin && located.region !== GLOBAL_REGION;
  return { region: pin, source: "tenant_pin", ...(alsoGoverning ? { located: located.region } : {}) };
}

function locatedRegion(table: unknown, location: RequestLocation | undefined, localDefault: string): RegionResolution {
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
