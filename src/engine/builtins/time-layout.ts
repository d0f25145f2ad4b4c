/**
 * @module time-layout
 * Go reference-time layouts ("2006-01-02T15:04:05Z07:00"), which Rego's
 * time.format and time.parse_ns use: a tokenizer, a formatter and a parser
 * for the layout elements Go defines. Nanoseconds are exact (bigint).
 */
import { BuiltinError } from "./context";

export interface Civil {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  weekday: number; // 0 = Sunday
  yearDay: number;
  offsetSeconds: number;
  zoneName: string;
}

type Token = { kind: "literal"; text: string } | { kind: "element"; name: string; digits?: number };

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: "Mon Jan _2 15:04:05 2006",
  UnixDate: "Mon Jan _2 15:04:05 MST 2006",
  RubyDate: "Mon Jan 02 15:04:05 -0700 2006",
  RFC822: "02 Jan 06 15:04 MST",
  RFC822Z: "02 Jan 06 15:04 -0700",
  RFC850: "Monday, 02-Jan-06 15:04:05 MST",
  RFC1123: "Mon, 02 Jan 2006 15:04:05 MST",
  RFC1123Z: "Mon, 02 Jan 2006 15:04:05 -0700",
  RFC3339: "2006-01-02T15:04:05Z07:00",
  RFC3339Nano: "2006-01-02T15:04:05.999999999Z07:00",
  Kitchen: "3:04PM",
  Stamp: "Jan _2 15:04:05",
  StampMilli: "Jan _2 15:04:05.000",
  StampMicro: "Jan _2 15:04:05.000000",
  StampNano: "Jan _2 15:04:05.000000000",
  DateTime: "2006-01-02 15:04:05",
  DateOnly: "2006-01-02",
  TimeOnly: "15:04:05",
};

// Longest elements first, so "2006" wins over "2" and "January" over "Jan".
const ELEMENTS = [
  "January", "Monday", "Z07:00:00", "-07:00:00", "Z070000", "-070000", "Z07:00", "-07:00", "Z0700", "-0700",
  "2006", "_2006", "Jan", "Mon", "MST", "Z07", "-07", "002", "__2", "_2", "01", "02", "03", "04", "05", "06", "15", "PM", "pm",
  "1", "2", "3", "4", "5",
];

export function tokenize(layout: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  let i = 0;
  const flush = () => {
    if (literal) tokens.push({ kind: "literal", text: literal });
    literal = "";
  };
  while (i < layout.length) {
    // As in Go: "." or "," then a run of only 0s or only 9s, not followed by a digit.
    const fraction = /^[.,](0+|9+)(?![0-9])/.exec(layout.slice(i));
    if (fraction) {
      flush();
      tokens.push({ kind: "element", name: fraction[1][0] === "0" ? "frac0" : "frac9", digits: fraction[1].length });
      i += fraction[0].length;
      continue;
    }
    const element = ELEMENTS.find((e) => layout.startsWith(e, i));
    if (element) {
      flush();
      tokens.push({ kind: "element", name: element });
      i += element.length;
      continue;
    }
    literal += layout[i++];
  }
  flush();
  return tokens;
}

const pad = (value: number, width: number, char = "0") => String(value).padStart(width, char);

function formatOffset(seconds: number, style: string): string {
  if (style.startsWith("Z") && seconds === 0) return "Z";
  const sign = seconds < 0 ? "-" : "+";
  const abs = Math.abs(seconds);
  const h = pad(Math.floor(abs / 3600), 2);
  const m = pad(Math.floor((abs % 3600) / 60), 2);
  const s = pad(abs % 60, 2);
  const body = style.replace(/^[Z-]/, "");
  switch (body) {
    case "07:00:00": return `${sign}${h}:${m}:${s}`;
    case "070000": return `${sign}${h}${m}${s}`;
    case "07:00": return `${sign}${h}:${m}`;
    case "0700": return `${sign}${h}${m}`;
    default: return `${sign}${h}`;
  }
}

export function formatCivil(civil: Civil, layout: string): string {
  let out = "";
  for (const token of tokenize(layout)) {
    if (token.kind === "literal") {
      out += token.text;
      continue;
    }
    const hour12 = civil.hour % 12 === 0 ? 12 : civil.hour % 12;
    switch (token.name) {
      case "January": out += MONTHS[civil.month - 1]; break;
      case "Jan": out += MONTHS[civil.month - 1].slice(0, 3); break;
      case "Monday": out += DAYS[civil.weekday]; break;
      case "Mon": out += DAYS[civil.weekday].slice(0, 3); break;
      case "MST": out += civil.zoneName; break;
      case "2006": out += pad(civil.year, 4); break;
      case "_2006": out += `_${pad(civil.year, 4)}`; break;
      case "06": out += pad(civil.year % 100, 2); break;
      case "01": out += pad(civil.month, 2); break;
      case "1": out += String(civil.month); break;
      case "02": out += pad(civil.day, 2); break;
      case "_2": out += pad(civil.day, 2, " "); break;
      case "2": out += String(civil.day); break;
      case "002": out += pad(civil.yearDay, 3); break;
      case "__2": out += pad(civil.yearDay, 3, " "); break;
      case "15": out += pad(civil.hour, 2); break;
      case "03": out += pad(hour12, 2); break;
      case "3": out += String(hour12); break;
      case "04": out += pad(civil.minute, 2); break;
      case "4": out += String(civil.minute); break;
      case "05": out += pad(civil.second, 2); break;
      case "5": out += String(civil.second); break;
      case "PM": out += civil.hour >= 12 ? "PM" : "AM"; break;
      case "pm": out += civil.hour >= 12 ? "pm" : "am"; break;
      case "frac0": out += `.${pad(civil.nanos, 9).slice(0, token.digits)}`; break;
      case "frac9": {
        const digits = pad(civil.nanos, 9).slice(0, token.digits).replace(/0+$/, "");
        if (digits) out += `.${digits}`;
        break;
      }
      default: out += formatOffset(civil.offsetSeconds, token.name);
    }
  }
  return out;
}

export interface ParsedCivil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  offsetSeconds: number;
}

/** Parses `value` against a Go layout; throws BuiltinError where Go's time.Parse would fail. */
export function parseWithLayout(layout: string, value: string): ParsedCivil {
  const result: ParsedCivil = { year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0, offsetSeconds: 0 };
  let pm: boolean | undefined;
  let rest = value;
  const fail = (what: string): never => {
    throw new BuiltinError(`cannot parse ${JSON.stringify(value)} as ${JSON.stringify(layout)}: ${what}`);
  };
  const take = (pattern: RegExp, what: string): string => {
    const match = pattern.exec(rest);
    if (!match) fail(what);
    rest = rest.slice(match![0].length);
    return match![0];
  };
  const tokens = tokenize(layout);
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index];
    if (token.kind === "literal") {
      if (!rest.startsWith(token.text)) fail(`expected ${JSON.stringify(token.text)}`);
      rest = rest.slice(token.text.length);
      continue;
    }
    switch (token.name) {
      case "January": case "Jan": {
        const names = token.name === "January" ? MONTHS : MONTHS.map((m) => m.slice(0, 3));
        const found = names.findIndex((m) => rest.toLowerCase().startsWith(m.toLowerCase()));
        if (found < 0) fail("month name");
        rest = rest.slice(names[found].length);
        result.month = found + 1;
        break;
      }
      case "Monday": case "Mon": {
        const names = token.name === "Monday" ? DAYS : DAYS.map((d) => d.slice(0, 3));
        const found = names.findIndex((d) => rest.toLowerCase().startsWith(d.toLowerCase()));
        if (found < 0) fail("day name");
        rest = rest.slice(names[found].length);
        break;
      }
      case "MST": {
        const zone = take(/^([A-Z]{3,5}|UTC)/, "time zone");
        if (zone !== "UTC" && zone !== "GMT") result.offsetSeconds = 0;
        break;
      }
      case "2006": result.year = Number(take(/^\d{4}/, "year")); break;
      case "06": {
        const yy = Number(take(/^\d{2}/, "year"));
        result.year = yy >= 69 ? 1900 + yy : 2000 + yy;
        break;
      }
      case "01": result.month = Number(take(/^\d{2}/, "month")); break;
      case "1": result.month = Number(take(/^\d{1,2}/, "month")); break;
      case "02": result.day = Number(take(/^\d{2}/, "day")); break;
      case "_2": result.day = Number(take(/^( \d|\d{1,2})/, "day").trim()); break;
      case "2": result.day = Number(take(/^\d{1,2}/, "day")); break;
      case "15": result.hour = Number(take(/^\d{1,2}/, "hour")); break;
      case "03": result.hour = Number(take(/^\d{2}/, "hour")); break;
      case "3": result.hour = Number(take(/^\d{1,2}/, "hour")); break;
      case "04": result.minute = Number(take(/^\d{2}/, "minute")); break;
      case "4": result.minute = Number(take(/^\d{1,2}/, "minute")); break;
      case "05": case "5": {
        result.second = Number(take(token.name === "05" ? /^\d{2}/ : /^\d{1,2}/, "second"));
        // Go accepts fractional seconds after a seconds field even when the layout has none.
        const next = tokens[index + 1];
        if (!(next && next.kind === "element" && next.name.startsWith("frac")) && /^[.,]\d/.test(rest)) {
          const digits = take(/^[.,]\d+/, "fraction").slice(1);
          result.nanos = Number(digits.slice(0, 9).padEnd(9, "0"));
        }
        break;
      }
      case "frac0": {
        const digits = take(new RegExp(`^[.,]\\d{${token.digits}}`), "fraction").slice(1);
        result.nanos = Number(digits.slice(0, 9).padEnd(9, "0"));
        break;
      }
      case "frac9": {
        if (/^[.,]\d/.test(rest)) {
          const digits = take(/^[.,]\d+/, "fraction").slice(1);
          result.nanos = Number(digits.slice(0, 9).padEnd(9, "0"));
        }
        break;
      }
      case "PM": case "pm": {
        const marker = take(/^(AM|PM|am|pm)/, "AM/PM").toUpperCase();
        pm = marker === "PM";
        break;
      }
      default: {
        if (token.name.startsWith("Z") && rest.startsWith("Z")) {
          rest = rest.slice(1);
          result.offsetSeconds = 0;
          break;
        }
        const match = /^([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?/.exec(rest);
        if (!match) fail("time zone offset");
        rest = rest.slice(match![0].length);
        const seconds = Number(match![2]) * 3600 + Number(match![3] ?? 0) * 60 + Number(match![4] ?? 0);
        result.offsetSeconds = match![1] === "-" ? -seconds : seconds;
      }
    }
  }
  if (rest !== "") fail(`extra text ${JSON.stringify(rest)}`);
  if (pm !== undefined) {
    if (result.hour < 1 || result.hour > 12) fail("hour out of range");
    result.hour = (result.hour % 12) + (pm ? 12 : 0);
  }
  if (result.month < 1 || result.month > 12) fail("month out of range");
  const daysInMonth = new Date(Date.UTC(result.year, result.month, 0)).getUTCDate();
  if (result.day < 1 || result.day > daysInMonth) fail("day out of range");
  if (result.hour > 23 || result.minute > 59 || result.second > 59) fail("time out of range");
  return result;
}
