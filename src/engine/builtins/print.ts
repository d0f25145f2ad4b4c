/**
 * @module print
 * print() and trace(). The compiler rewrites `print(a, b)` into
 * `internal.print([{a…}, {b…}])`: each argument is the set of its values, so
 * an undefined argument prints `<undefined>` and a multi-valued one prints a
 * line per combination, as OPA does. Lines go to the evaluation's PrintLog,
 * which the sandbox returns beside the layer's result (`LayerOutcome.print`)
 * for the decision's record. trace() is what OPA does without explanations
 * enabled: nothing, and true.
 */
import { compareRegoValues, type RegoValue } from "../rego-value";
import { BuiltinError, expectString, type Builtin, type BuiltinContext } from "./context";
import { termText } from "./term-text";

/** A decision's print output is bounded: a policy printing in a loop must not bloat the record. */
export const PRINT_MAX_LINES = 64;
export const PRINT_MAX_LINE_CHARS = 1024;
export const PRINT_TRUNCATED_MARK = "…[print output truncated]";

export class PrintLog {
  private kept: string[] = [];
  private dropped = 0;

  add(line: string): void {
    if (this.kept.length >= PRINT_MAX_LINES) {
      this.dropped++;
      return;
    }
    this.kept.push(line.length > PRINT_MAX_LINE_CHARS ? `${line.slice(0, PRINT_MAX_LINE_CHARS)}${PRINT_TRUNCATED_MARK}` : line);
  }

  clear(): void {
    this.kept = [];
    this.dropped = 0;
  }

  /** The lines kept; when some were dropped, a last line says how many. */
  lines(): string[] {
    return this.dropped === 0 ? [...this.kept] : [...this.kept, `${PRINT_TRUNCATED_MARK} ${this.dropped} more line(s) dropped`];
  }
}

function operandText(operand: RegoValue): string[] {
  if (typeof operand === "string") return [operand];
  if (!(operand instanceof Set)) {
    if (operand === null || typeof operand !== "object" || !Array.isArray(operand)) return [termText(operand)];
    throw new BuiltinError("illegal argument type: array");
  }
  if (operand.size === 0) return ["<undefined>"];
  return [...operand].sort(compareRegoValues).map((value) => (typeof value === "string" ? value : termText(value)));
}

export function printBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    "internal.print": (operands: unknown) => {
      if (!Array.isArray(operands)) throw new BuiltinError("print operands must be an array");
      let lines: string[][] = [[]];
      for (const operand of operands as RegoValue[]) {
        const texts = operandText(operand);
        lines = lines.flatMap((prefix) => texts.map((text) => [...prefix, text]));
      }
      for (const parts of lines) context.print?.(parts.join(" "));
      return true;
    },
    trace: (note: unknown) => {
      expectString(note, "note");
      return true;
    },
  };
}
