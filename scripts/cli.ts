/**
 * @module cli
 * The `tollgate` command for policy authors and operators.
 *
 *   tollgate eval <rego-dir> <entrypoint> <input.json>
 *       Compile with OPA and evaluate through the edge's sandbox code in
 *       workerd; prints the result JSON. Exit 1 on a compile error, 2 on
 *       usage errors, 3 when the policy cannot be evaluated.
 */
import { existsSync, readFileSync } from "node:fs";
import { OpaError, opaBuildWasm } from "./lib/opa.ts";
import { evaluateInSandbox } from "./lib/sandbox-eval.ts";

const USAGE = `usage:
  tollgate eval <rego-dir> <entrypoint> <input.json>   evaluate as the edge would (entrypoint like tollgate/decision)`;

class UsageError extends Error {}

async function evalCommand(args: string[]): Promise<number> {
  const [dir, entrypoint, inputPath] = args;
  if (!dir || !entrypoint || !inputPath) throw new UsageError("eval needs <rego-dir> <entrypoint> <input.json>");
  if (!existsSync(dir)) throw new UsageError(`no such policy directory: ${dir}`);
  if (!existsSync(inputPath)) throw new UsageError(`no such input file: ${inputPath}`);
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(inputPath, "utf8"));
  } catch (error) {
    throw new UsageError(`${inputPath} is not valid JSON: ${(error as Error).message}`);
  }
  let compiled;
  try {
    compiled = await opaBuildWasm(dir, entrypoint.replace(/^data[./]/, "").replaceAll(".", "/"));
  } catch (error) {
    if (error instanceof OpaError) {
      console.error(`tollgate eval: the policy does not compile:\n${error.output.trim()}`);
      return 1;
    }
    throw error;
  }
  const [outcome] = await evaluateInSandbox(compiled, [input]);
  if (outcome.error) {
    console.error(`tollgate eval: ${outcome.error.code}: ${outcome.error.message}`);
    return 3;
  }
  console.log(JSON.stringify(outcome.result, null, 2));
  return 0;
}

const commands: Record<string, (args: string[]) => Promise<number>> = { eval: evalCommand };

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`tollgate: unknown command ${name}\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`tollgate ${name}: ${error.message}\n${USAGE}`);
      return 2;
    }
    console.error(`tollgate ${name}: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
