/**
 * @module tokens
 * Admin tokens for operators:
 *
 *   token create --subject <who> --roles <role,…> --scopes <scope,…>
 *
 * prints a new random token once (stdout) and the entry to add to the
 * ADMIN_TOKENS secret (stderr): only the token's sha256 is ever stored.
 * Roles and scopes are checked against the same schema the Worker uses,
 * so an entry this prints can never close the admin API.
 */
import { createHash, randomBytes } from "node:crypto";
import { ADMIN_ROLES, principalSchema } from "../../src/schema/admin-principal.ts";
import { parseFlags, UsageError } from "../lib/args.ts";

export async function token(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "create") throw new UsageError("token takes create");
  const { values } = parseFlags(rest, ["subject", "roles", "scopes"]);
  if (!values.subject || !values.roles || !values.scopes) throw new UsageError(`token create needs --subject, --roles (${ADMIN_ROLES.join(", ")}) and --scopes`);
  const principal = principalSchema.safeParse({
    subject: values.subject,
    roles: values.roles.split(",").map((role) => role.trim()),
    scopes: values.scopes.split(",").map((scope) => scope.trim()),
  });
  if (!principal.success) {
    const issue = principal.error.issues[0];
    throw new UsageError(`${issue.path.join(".")}: ${issue.message}`);
  }
  const secret = `tga_${randomBytes(24).toString("base64url")}`;
  const entry = { [createHash("sha256").update(secret).digest("hex")]: principal.data };
  console.error("add this entry to the ADMIN_TOKENS secret (wrangler secret put ADMIN_TOKENS); the token below is shown once:");
  console.error(JSON.stringify(entry));
  console.log(secret);
  return 0;
}
