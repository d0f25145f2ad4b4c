/**
 * @module policy-instance
 * One instance of an OPA-compiled policy, driven through OPA's wasm ABI
 * (1.2) directly rather than through the opa-wasm SDK, so that no value
 * passes through JSON.parse or JSON.stringify on its way in or out:
 *
 * - the input's JSON text is written into wasm memory as it came;
 * - host builtins receive their arguments as `opa_value_dump` text (sets and
 *   non-string keys kept) read by rego-value.ts, and their results go back as
 *   text through `opa_value_parse`, so integers beyond 2^53 stay exact;
 * - the result comes back as `opa_value_dump` text.
 *
 * Evaluations go through the ABI's context calls rather than `opa_eval`,
 * because `opa_eval` resets the heap first, and a reset also empties OPA's
 * builtin caches: every `regex.match` would compile its pattern again on
 * every evaluation (hundreds of microseconds for a few patterns). Instead
 * the heap above the data is kept between evaluations, caches included, and
 * reset only once it has grown past a bound (retainedBytesFor), or after an
 * evaluation that did not finish (its allocator state is not trusted). So
 * memory stays within the data, that bound and one evaluation; the memory
 * also has a hard maximum, so a hostile input cannot grow it without bound.
 *
 * A reset is a rewind to a checkpoint rather than to the bare data when it
 * can be (see Checkpoint): the patterns compiled before it are kept.
 */
import { BuiltinCannotAnswer } from "./builtins/context";
import { readRegoValue, writeRegoValue, type RegoValue } from "./rego-value";

export type HostBuiltin = (...args: RegoValue[]) => unknown;

export class PolicyInstanceError extends Error {}

interface PolicyExports {
  memory?: WebAssembly.Memory;
  opa_malloc(size: number): number;
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(addr: number): void;
  opa_json_parse(addr: number, length: number): number;
  opa_value_parse(addr: number, length: number): number;
  opa_json_dump(addr: number): number;
  opa_value_dump(addr: number): number;
  opa_free(addr: number): void;
  opa_eval_ctx_new(): number;
  opa_eval_ctx_set_input(ctx: number, value: number): void;
  opa_eval_ctx_set_data(ctx: number, value: number): void;
  opa_eval_ctx_set_entrypoint(ctx: number, entrypoint: number): void;
  opa_eval_ctx_get_result(ctx: number): number;
  eval(ctx: number): number;
  builtins(): number;
  entrypoints(): number;
  opa_wasm_abi_version?: WebAssembly.Global | number;
  opa_wasm_abi_minor_version?: WebAssembly.Global | number;
}

/**
 * How far the heap may grow above the data, over evaluations, before it is
 * reset. A decision of the global policy allocates about 28 KB, so OPA's
 * compiled patterns survive some 150 evaluations between resets at 4 MiB.
 * Compiling the global policy's shell patterns again costs about 300 µs: at
 * 1 MiB it was paid every thirty-odd decisions, and was the p99 of a mixed
 * stream. Keeping more is not free either: OPA's allocator walks its free
 * lists on every release, and they grow until the reset. Measured in Node
 * over the scenario mix, one evaluation at a time: mean 48-51 µs and p99
 * 390-400 µs at 1 MiB; 38 µs and 140 µs at 4 MiB; 37 µs and 110 µs at 8 MiB,
 * where a 1 KB input's mean rose by 12% (2% at 4 MiB). Less is kept when the
 * data leaves less room (see retainedBytesFor).
 */
export const RETAINED_HEAP_BYTES = 4 * 1024 * 1024;

/**
 * A copy of the wasm memory at rest, between two evaluations: the data, the
 * caches evaluations filled (OPA's compiled patterns) and their garbage.
 * The module keeps all its state in that memory (its allocator's lists,
 * its cache pointers, the heap) but for two globals: the stack pointer,
 * which is back at its start whenever no evaluation runs, and the build's
 * memo table (scripts/lib/wasm-memo-table.ts), which every evaluation sets
 * before it reads it; so writing the copy back puts the instance exactly
 * where it was then, a state it has already evaluated from. A reset
 * rewinds to it instead of releasing everything above the data.
 *
 * When one is taken:
 * - the first, after the evaluation that follows the first reset, so a
 *   layer that decides too seldom to reach one (most tenants' layers, each
 *   in a sandbox of its own) never holds a copy;
 * - a new one after an evaluation that grew the heap by more than twice the
 *   least an evaluation has, the sign that it may have filled a cache
 *   (compiling the global policy's 13 shell patterns takes about 80 KiB, a
 *   decision about 30 KiB), so patterns first compiled later are kept too;
 *   at most one per turn between resets, since an input that allocates much
 *   without filling any cache (a plan of 20 steps) looks the same;
 * - only while it is small (CHECKPOINT_MAX_BYTES, and at most half the heap
 *   kept between resets), since a rewind copies it back whole: a layer with
 *   large data resets to its bare data as before, and a cache filled late
 *   in a turn between resets is kept when it is filled again early in one.
 *
 * A rewind copies some hundred KiB where compiling those patterns again cost
 * about 300 µs.
 */
interface Checkpoint {
  /** The memory from address 0 to where the heap ended. */
  bytes: Uint8Array;
  /**
   * The memory's size then. OPA's allocator keeps the end of the memory it
   * grew as a count it adds to, so bytes from before a growth would have it
   * grow the memory again at every rewind: a checkpoint from a smaller
   * memory is dropped instead (the memory stops growing once it holds the
   * data, the heap kept between resets and one evaluation).
   */
  memoryBytes: number;
}

/** The largest checkpoint taken (from address 0): a larger one is not, and the one there is stays. */
export const CHECKPOINT_MAX_BYTES = 512 * 1024;

/** A wasm page, and the most pages a memory without a declared maximum may have. */
const PAGE_BYTES = 64 * 1024;
const MAX_PAGES = 65_536;

/**
 * What may be kept above data ending at `dataEnd`: RETAINED_HEAP_BYTES, or a
 * quarter of the room left below the memory's maximum when that is less, so
 * a layer with large data keeps room for an evaluation rather than running
 * out of memory with garbage it could have released.
 */
export function retainedBytesFor(dataEnd: number, maximumPages = MAX_PAGES): number {
  return Math.max(0, Math.min(RETAINED_HEAP_BYTES, Math.floor((maximumPages * PAGE_BYTES - dataEnd) / 4)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function globalValue(value: WebAssembly.Global | number | undefined): number | undefined {
  return typeof value === "number" ? value : (value?.value as number | undefined);
}

export interface PolicyInstanceOptions {
  memory: WebAssembly.MemoryDescriptor;
  /**
   * Implementations of the builtins the policy imports (asked once, with
   * their names, before the policy runs), by name; each returns undefined
   * (or throws) for an undefined call.
   */
  builtins(names: readonly string[]): Promise<Record<string, HostBuiltin>> | Record<string, HostBuiltin>;
  /** Told about a builtin that threw; the call is then undefined, as in OPA. */
  onBuiltinError?(name: string, error: unknown): void;
  /**
   * Asked before every host builtin call; throwing stops the evaluation
   * there (the error propagates out of evaluate), which is how an
   * evaluation that has run past its budget is cut off.
   */
  checkBudget?(): void;
}

/** Thrown by checkBudget: not a builtin's failure (undefined) but the end of the evaluation. */
export class EvaluationBudgetExceeded extends Error {}

export class PolicyInstance {
  private dataAddr = 0;
  /** The heap as the module left it after start-up; data is loaded above it. */
  private baseHeapPtr = 0;
  private dataHeapPtr = 0;
  /** How far the heap may grow above the data before it is reset (retainedBytesFor). */
  private retainedBytes = RETAINED_HEAP_BYTES;
  /** Set while an evaluation runs; still set at the next one when it threw. */
  private evaluating = false;
  private checkpoint: Checkpoint | undefined;
  /** The least an evaluation has grown the heap by. */
  private leanestGrowth = Number.POSITIVE_INFINITY;
  /**
   * Whether a checkpoint may still be taken before the next reset: set by a
   * reset, cleared by taking one, and false until the first reset (only then
   * is a checkpoint worth its copy).
   */
  private mayCheckpoint = false;
  readonly entrypoints: Record<string, number>;
  /** Builtins the policy imports from the host, by name. */
  readonly required: string[];

  private constructor(
    private readonly exports: PolicyExports,
    private readonly memory: WebAssembly.Memory,
    private readonly maximumPages: number | undefined,
    entrypoints: Record<string, number>,
    required: string[],
  ) {
    this.entrypoints = entrypoints;
    this.required = required;
  }

  static async create(module: WebAssembly.Module, options: PolicyInstanceOptions): Promise<PolicyInstance> {
    const memory = new WebAssembly.Memory(options.memory);
    // Filled once the instance exists; imports are only called after that.
    const byId: Array<HostBuiltin | undefined> = [];
    const names: string[] = [];
    let exports: PolicyExports | undefined;

    const call = (id: number, addrs: number[]): number => {
      const impl = byId[id];
      const name = names[id] ?? `#${id}`;
      if (!impl || !exports) throw new PolicyInstanceError(`builtin ${name} is not available at the edge`);
      options.checkBudget?.();
      let result: unknown;
      try {
        const args = addrs.map((addr) => readRegoValue(dumpValue(exports!, memory, addr), { shape: "values" }));
        result = impl(...args);
        if (result === undefined) return 0;
        return writeValue(exports, memory, writeRegoValue(result), "value");
      } catch (error) {
        if (error instanceof EvaluationBudgetExceeded) throw error;
        if (error instanceof BuiltinCannotAnswer) throw new PolicyInstanceError(`builtin ${name} cannot answer as OPA would: ${error.message}`);
        options.onBuiltinError?.(name, error);
        return 0;
      }
    };
    const env = {
      memory,
      opa_abort(addr: number): never {
        throw new PolicyInstanceError(`policy aborted: ${readCString(memory, addr)}`);
      },
      opa_println(addr: number): void {
        // Only debug builds of OPA's runtime print; nothing in a decision depends on it.
        void addr;
      },
      opa_builtin0: (id: number) => call(id, []),
      opa_builtin1: (id: number, _ctx: number, a: number) => call(id, [a]),
      opa_builtin2: (id: number, _ctx: number, a: number, b: number) => call(id, [a, b]),
      opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => call(id, [a, b, c]),
      opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => call(id, [a, b, c, d]),
    };
    const instance = await WebAssembly.instantiate(module, { env });
    exports = instance.exports as unknown as PolicyExports;

    const major = globalValue(exports.opa_wasm_abi_version);
    const minor = globalValue(exports.opa_wasm_abi_minor_version) ?? 0;
    if (major !== 1 || minor < 2) throw new PolicyInstanceError(`unsupported OPA wasm ABI ${major}.${minor}; this edge needs 1.2 or later`);

    const imported = readRegoValue(readCString(memory, exports.opa_json_dump(exports.builtins())), { shape: "json" }) as Record<string, number>;
    const provided = await options.builtins(Object.keys(imported));
    for (const [name, id] of Object.entries(imported)) {
      names[id] = name;
      byId[id] = Object.hasOwn(provided, name) ? provided[name] : undefined;
    }
    const missing = Object.keys(imported).filter((name) => !Object.hasOwn(provided, name));
    if (missing.length > 0) {
      throw new PolicyInstanceError(`the policy calls builtins the edge does not provide: ${missing.sort().join(", ")}`);
    }
    const entrypoints = readRegoValue(readCString(memory, exports.opa_json_dump(exports.entrypoints())), { shape: "json" }) as Record<string, number>;
    const policy = new PolicyInstance(exports, memory, options.memory.maximum, entrypoints, Object.keys(imported).sort());
    policy.baseHeapPtr = exports.opa_heap_ptr_get();
    policy.setData("{}");
    return policy;
  }

  /** Loads the policy's data document from its JSON text (numbers kept as written). */
  setData(dataJson: string): void {
    this.checkpoint = undefined;
    this.leanestGrowth = Number.POSITIVE_INFINITY;
    this.mayCheckpoint = false;
    this.exports.opa_heap_ptr_set(this.baseHeapPtr);
    this.dataAddr = writeValue(this.exports, this.memory, dataJson, "json");
    this.dataHeapPtr = this.exports.opa_heap_ptr_get();
    this.retainedBytes = retainedBytesFor(this.dataHeapPtr, this.maximumPages);
  }

  /**
   * Evaluates an entrypoint for an input given as JSON text and returns the
   * result set in OPA's value syntax (`{{"result": …}}`, or `set()`).
   */
  evaluate(entrypoint: number, inputJson: string): string {
    const exports = this.exports;
    if (this.evaluating) {
      // An evaluation that did not finish: nothing it left is trusted, the checkpoint's copy included.
      this.checkpoint = undefined;
      this.resetToData();
    } else if (exports.opa_heap_ptr_get() - this.dataHeapPtr > this.retainedBytes) {
      if (this.checkpoint?.memoryBytes !== this.memory.buffer.byteLength) this.checkpoint = undefined;
      if (this.checkpoint) new Uint8Array(this.memory.buffer).set(this.checkpoint.bytes);
      else this.resetToData();
      this.mayCheckpoint = true;
    }
    const startedAt = exports.opa_heap_ptr_get();
    this.evaluating = true;
    const input = writeValue(exports, this.memory, inputJson, "value");
    const ctx = exports.opa_eval_ctx_new();
    exports.opa_eval_ctx_set_input(ctx, input);
    exports.opa_eval_ctx_set_data(ctx, this.dataAddr);
    exports.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    if (exports.eval(ctx) !== 0) throw new PolicyInstanceError("policy evaluation failed");
    const text = dumpValue(exports, this.memory, exports.opa_eval_ctx_get_result(ctx));
    this.evaluating = false;
    this.considerCheckpoint(startedAt);
    return text;
  }

  /** Releases the heap above the data; also empties OPA's builtin caches, which live in it. */
  private resetToData(): void {
    this.exports.opa_heap_ptr_set(this.dataHeapPtr);
  }

  /** After an evaluation that began with the heap at `startedAt`: a checkpoint when there is none yet, or when it filled a cache. */
  private considerCheckpoint(startedAt: number): void {
    const heapPtr = this.exports.opa_heap_ptr_get();
    const growth = heapPtr - startedAt;
    const filledCache = growth > 2 * this.leanestGrowth;
    this.leanestGrowth = Math.min(this.leanestGrowth, growth);
    if (!this.mayCheckpoint || (this.checkpoint && !filledCache)) return;
    // Too large to copy back at each reset, or near enough to the bound that it would leave no room: keep what there is.
    if (heapPtr > CHECKPOINT_MAX_BYTES || heapPtr - this.dataHeapPtr > this.retainedBytes / 2) return;
    this.checkpoint = { bytes: new Uint8Array(this.memory.buffer, 0, heapPtr).slice(), memoryBytes: this.memory.buffer.byteLength };
    this.mayCheckpoint = false;
  }

  /** How far the heap reaches above the module's own start: the data, and what evaluations keep. */
  heapBytes(): number {
    return this.exports.opa_heap_ptr_get() - this.baseHeapPtr;
  }

  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}

function readCString(memory: WebAssembly.Memory, addr: number): string {
  const bytes = new Uint8Array(memory.buffer);
  const end = bytes.indexOf(0, addr);
  return decoder.decode(bytes.subarray(addr, end < 0 ? bytes.length : end));
}

/** A value in OPA's value syntax; the dump's block is released once read. */
function dumpValue(exports: PolicyExports, memory: WebAssembly.Memory, addr: number): string {
  const dumped = exports.opa_value_dump(addr);
  const text = readCString(memory, dumped);
  exports.opa_free(dumped);
  return text;
}

/** Texts up to this many UTF-16 units (an input, a builtin's result) are encoded straight into wasm memory. */
const DIRECT_ENCODE_MAX = 256 * 1024;

/**
 * Writes text into wasm memory and parses it there; returns the value's
 * address. A short text is encoded straight into a block big enough for
 * any UTF-8 it can become (three bytes per UTF-16 unit), so no copy of it
 * is made on the way in; a long one (a layer's data) takes a block of its
 * exact size, so that three times its length never counts against the
 * memory's cap.
 */
function writeValue(exports: PolicyExports, memory: WebAssembly.Memory, text: string, syntax: "json" | "value"): number {
  let addr: number;
  let length: number;
  if (text.length <= DIRECT_ENCODE_MAX) {
    addr = exports.opa_malloc(text.length * 3);
    length = encoder.encodeInto(text, new Uint8Array(memory.buffer, addr, text.length * 3)).written;
  } else {
    const bytes = encoder.encode(text);
    addr = exports.opa_malloc(bytes.byteLength);
    new Uint8Array(memory.buffer).set(bytes, addr);
    length = bytes.byteLength;
  }
  const parsed = syntax === "json" ? exports.opa_json_parse(addr, length) : exports.opa_value_parse(addr, length);
  // The parsed value copies what it needs (strings included), so the text's block can be reused.
  exports.opa_free(addr);
  if (parsed === 0) throw new PolicyInstanceError(`OPA could not parse ${syntax === "json" ? "a JSON document" : "a value (an input or a builtin's result)"}`);
  return parsed;
}
