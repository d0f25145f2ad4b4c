/**
 * @module data-class
 * A class of data a result carries (`pii`, `confidential`), as every route
 * and the MCP registry take it: one spelling only. The policy compares
 * classes as exact strings, so `PII` or ` pii` would name no class it knows
 * and switch its data-flow rules off; such a class is refused instead.
 */
import { z } from "zod";

export const dataClassSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "data classes are lowercase names such as pii or confidential");
