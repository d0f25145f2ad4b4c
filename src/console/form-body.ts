/**
 * @module form-body
 * Console forms, read the same way everywhere: urlencoded only (415
 * otherwise), at most 16 KiB (413), each field at most once (400), the
 * session's CSRF token checked before anything else is looked at (403), then
 * the fields against their schema (400 naming the field). Forms are flat,
 * so there is nothing to nest.
 */
import type { Context } from "hono";
import { cappedText, declaresTooLarge } from "../streams/capped-text";
import type { z } from "zod";
import { ApiError } from "../errors";
import { validated } from "../routes/request-body";

const MAX_FORM_BYTES = 16 * 1024;

/** `lists` names the fields that may repeat (a group of checkboxes); they arrive as arrays. */
export async function readForm<T>(c: Context, schema: z.ZodType<T>, checkCsrf: (fields: Record<string, string>) => Promise<void>, lists: string[] = []): Promise<T> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new ApiError(415, "unsupported_media_type", `console forms are sent as application/x-www-form-urlencoded, not ${type || "nothing"}`);
  }
  if (await declaresTooLarge(c.req.raw, MAX_FORM_BYTES)) throw new ApiError(413, "payload_too_large", `a console form is at most ${MAX_FORM_BYTES} bytes`);
  const fields: Record<string, string> = {};
  const listed: Record<string, string[]> = Object.fromEntries(lists.map((name) => [name, []]));
  for (const [name, value] of new URLSearchParams(await boundedText(c.req.raw.body))) {
    if (Object.hasOwn(listed, name)) {
      listed[name].push(value);
      continue;
    }
    if (Object.hasOwn(fields, name)) throw new ApiError(400, "invalid_input", `${name}: given more than once`, name);
    fields[name] = value;
  }
  await checkCsrf(fields);
  return validated(schema, { ...fields, ...listed });
}

/** The body as text, read as it streams and cut off past the limit (a chunked body declares no length). */
async function boundedText(body: ReadableStream<Uint8Array> | null): Promise<string> {
  const read = await cappedText(body, MAX_FORM_BYTES);
  if ("tooLarge" in read) throw new ApiError(413, "payload_too_large", `a console form is at most ${MAX_FORM_BYTES} bytes`);
  return read.text;
}
