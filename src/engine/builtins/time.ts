/**
 * @module time
 * Rego's time.* builtins. The clock is the edge's, passed in per evaluation,
 * so time.now_ns is the same for every call in one query and the sandbox
 * needs no clock of its own. Timestamps are nanoseconds since the epoch,
 * beyond 2^53: they arrive and go back as exact integers (bigints).
 */
import { BoundedCache } from "./bounded-cache";
import { BuiltinError, exactInteger, expectString, type Builtin, type BuiltinContext } from "./context";
import { ownMember } from "../../own-members";
import { formatCivil, NAMED_LAYOUTS, parseWithLayout, type Civil, type ParsedCivil } from "./time-layout";

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

function toNs(value: unknown): bigint {
  if (typeof value === "number" && Number.isFinite(value)) return BigInt(Math.trunc(value));
  if (typeof value === "bigint") return value;
  throw new BuiltinError("timestamp must be a number of nanoseconds");
}

/** Offset of an IANA zone (or UTC) at an instant, in seconds. */
function zoneOffsetSeconds(zone: string, ms: number): number {
  if (zone === "" || zone === "UTC" || zone === "Local") return 0;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    }).formatToParts(new Date(ms));
  } catch {
    throw new BuiltinError(`unknown time zone ${JSON.stringify(zone)}`);
  }
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 1000);
}

function civil(ns: bigint, zone = "UTC"): Civil {
  const floorMs = ns >= 0n ? ns / NS_PER_MS : -((-ns + NS_PER_MS - 1n) / NS_PER_MS);
  const nanos = Number(((ns % NS_PER_S) + NS_PER_S) % NS_PER_S);
  const offsetSeconds = zoneOffsetSeconds(zone, Number(floorMs));
  const date = new Date(Number(floorMs) + offsetSeconds * 1000);
  const startOfYear = Date.UTC(date.getUTCFullYear(), 0, 1);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    nanos,
    weekday: date.getUTCDay(),
    yearDay: Math.floor((date.getTime() - startOfYear) / 86_400_000) + 1,
    offsetSeconds,
    zoneName: zone === "" || zone === "Local" ? "UTC" : zone,
  };
}

function fromParsed(parsed: ParsedCivil): bigint {
  const ms = Date.UTC(parsed.year, parsed.month - 1, parsed.day, parsed.hour, parsed.minute, parsed.second);
  const utc = new Date(ms);
  if (parsed.year < 100) utc.setUTCFullYear(parsed.year);
  const seconds = BigInt(utc.getTime() / 1000) - BigInt(parsed.offsetSeconds);
  return seconds * NS_PER_S + BigInt(parsed.nanos);
}

/** Accepts `ns` or `[ns, zone]`, as time.date, time.clock and time.weekday do. */
function civilArg(arg: unknown): Civil {
  if (Array.isArray(arg)) {
    if (arg.length !== 2) throw new BuiltinError("expected [ns, timezone]");
    return civil(toNs(arg[0]), expectString(arg[1], "timezone"));
  }
  return civil(toNs(arg));
}

// Go accepts both micro signs: U+00B5 and U+03BC. Escaped, so the sandbox's source stays ASCII (build-sandbox.ts).
const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, "\u00b5s": 1e3, "\u03bcs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function parseDuration(text: string): bigint {
  const match = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/.exec(text);
  if (text === "0") return 0n;
  if (!match) throw new BuiltinError(`invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  for (const part of text.replace(/^[+-]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNITS[part[2]];
  }
  const ns = BigInt(Math.round(total));
  return match[1] === "-" ? -ns : ns;
}

/** Calendar difference as OPA computes it: [years, months, days, hours, minutes, seconds]. */
function diff(a: Civil, b: Civil, aNs: bigint, bNs: bigint): number[] {
  const [x, y] = aNs > bNs ? [b, a] : [a, b];
  let year = y.year - x.year;
  let month = y.month - x.month;
  let day = y.day - x.day;
  let hour = y.hour - x.hour;
  let minute = y.minute - x.minute;
  let second = y.second - x.second;
  if (second < 0) { second += 60; minute--; }
  if (minute < 0) { minute += 60; hour--; }
  if (hour < 0) { hour += 24; day--; }
  if (day < 0) {
    // Days in x's month: Go normalises day 32 into the next month.
    const overflow = new Date(Date.UTC(x.year, x.month - 1, 32)).getUTCDate();
    day += 32 - overflow;
    month--;
  }
  if (month < 0) { month += 12; year--; }
  return [year, month, day, hour, minute, second];
}

/**
 * RFC 3339 timestamps parsed, by their text: an agent's registration dates
 * come back in every decision it asks for, and a parse costs a few
 * microseconds. Only timestamp-sized texts are kept; a text that does not
 * parse is not kept.
 */
const timestamps = new BoundedCache<ReturnType<typeof exactInteger>>(256);
const MAX_CACHED_TIMESTAMP = 64;

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export function timeBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    "time.now_ns": () => exactInteger(context.nowNs()),
    "time.parse_rfc3339_ns": (value: unknown) => {
      const text = expectString(value, "value");
      const parse = () => exactInteger(fromParsed(parseWithLayout(NAMED_LAYOUTS.RFC3339, text)));
      return text.length <= MAX_CACHED_TIMESTAMP ? timestamps.get(text, parse) : parse();
    },
    "time.parse_ns": (layout: unknown, value: unknown) => {
      const name = expectString(layout, "layout");
      return exactInteger(fromParsed(parseWithLayout(ownMember(NAMED_LAYOUTS, name) ?? name, expectString(value, "value"))));
    },
    "time.parse_duration_ns": (value: unknown) => exactInteger(parseDuration(expectString(value, "duration"))),
    "time.date": (arg: unknown) => {
      const c = civilArg(arg);
      return [c.year, c.month, c.day];
    },
    "time.clock": (arg: unknown) => {
      const c = civilArg(arg);
      return [c.hour, c.minute, c.second];
    },
    "time.weekday": (arg: unknown) => DAYS[civilArg(arg).weekday],
    "time.add_date": (ns: unknown, years: unknown, months: unknown, days: unknown) => {
      const base = toNs(ns);
      const c = civil(base);
      const ms = Date.UTC(c.year + Number(years), c.month - 1 + Number(months), c.day + Number(days), c.hour, c.minute, c.second);
      if (!Number.isFinite(ms)) throw new BuiltinError("date out of range");
      return exactInteger(BigInt(ms) * NS_PER_MS + BigInt(c.nanos));
    },
    "time.diff": (a: unknown, b: unknown) => {
      const [aNs, aZone] = Array.isArray(a) ? [toNs(a[0]), expectString(a[1], "timezone")] : [toNs(a), "UTC"];
      const bNs = Array.isArray(b) ? toNs(b[0]) : toNs(b);
      return diff(civil(aNs, aZone), civil(bNs, aZone), aNs, bNs);
    },
    "time.format": (arg: unknown) => {
      let ns: bigint;
      let zone = "UTC";
      let layout = NAMED_LAYOUTS.RFC3339Nano;
      if (Array.isArray(arg)) {
        ns = toNs(arg[0]);
        if (arg.length > 1) zone = expectString(arg[1], "timezone");
        if (arg.length > 2) {
          const name = expectString(arg[2], "layout");
          layout = ownMember(NAMED_LAYOUTS, name) ?? name;
        }
      } else {
        ns = toNs(arg);
      }
      return formatCivil(civil(ns, zone), layout);
    },
  };
}
