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
 *   scalars and arrays of them skip the text, read and written straight in
 *   memory to the same values (wasm-values.ts);
 * - the result comes back as `opa_value_dump` text.
 *
 * Evaluations go through the ABI's context calls rather than `opa_eval`,
 * because `opa_eval` resets the heap first, and a reset also empties OPA's
 * builtin caches: every `regex.match` would compile its pattern again on
 * every evaluation (more than half a millisecond for the global policy's
 * shell patterns). Instead the heap above the data is kept between
 * evaluations, caches included, and reset only once it has grown past a
 * bound (retainedBytesFor), or after an evaluation that did not finish (its
 * allocator state is not trusted). So memory stays within the data, that
 * bound and one evaluation; the memory also has a hard maximum, so a hostile
 * input cannot grow it without bound.
 *
 * A reset is a rewind to a checkpoint that holds the caches (see
 * Checkpoint), so patterns compiled before it are not compiled again.
 */
import { BuiltinCannotAnswer } from "./builtins/context";
import { readRegoValue, writeRegoValue, type RegoValue } from "./rego-value";
import { probeWasmValues, TEXT_PATH, WasmValues } from "./wasm-values";

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
  /** Where OPA's builtin caches are reached from, and how many slots: exported by the build (scripts/lib/wasm-builtin-caches.ts). */
  tollgate_builtin_caches?: WebAssembly.Global | number;
  tollgate_builtin_cache_slots?: WebAssembly.Global | number;
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
 * A copy of the wasm memory at rest, between two evaluations: the data and
 * OPA's builtin caches (its compiled patterns), filled by evaluating again,
 * right after a reset, inputs that had filled them (see Filler). The module
 * keeps all its state in that memory (its allocator's lists, its cache
 * pointers, the heap) but for two globals: the stack pointer, which is back
 * at its start whenever no evaluation runs, and the build's memo table
 * (scripts/lib/wasm-memo-table.ts), which every evaluation sets before it
 * reads it; so writing the copy back puts the instance exactly where it was
 * then, a state it has already evaluated from. A reset rewinds to it instead
 * of releasing everything above the data.
 *
 * Taken just after a reset, once the fillers are replayed, rather than
 * whenever a cache was filled, so it holds the caches and the garbage of
 * the evaluations that filled them and nothing else: one taken at a
 * cache's filling late in a turn between resets carried that whole turn's
 * garbage, soon reached the most a checkpoint may hold, and then kept no
 * patterns filled after that
 * (measured over the scenario mix: the first shell command after most
 * resets compiled every pattern again, 0.5-0.8 ms, about 4 µs an evaluation
 * on average). It is only taken while small (CHECKPOINT_MAX_BYTES, and at
 * most half the heap kept between resets), since a rewind copies it back
 * whole; past that, resets rewind to the last one taken and no more
 * replaying is done until the data changes.
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

/**
 * An input whose evaluation filled one of OPA's builtin caches: the
 * pointers in its static array of cache slots, or the word each cache keeps
 * its size in (a C++ unordered_map's, 12 bytes in), changed. It is
 * evaluated again after the next reset, its answer discarded, so the
 * checkpoint taken then holds what it compiled. Only the signal depends on
 * the map's layout: a layout that differs makes it miss fills, never
 * changes an answer.
 */
interface Filler {
  entrypoint: number;
  input: string;
}

/** At most this many fillers wait for the next reset, the first ones kept. */
const MAX_FILLERS = 4;
/** A longer input is not kept to replay: its cache is filled again by the next such input instead. */
const FILLER_MAX_CHARS = 64 * 1024;

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
  /** Inputs that filled a builtin cache since the last reset, to replay after the next. */
  private fillers: Filler[] = [];
  /** A checkpoint with the caches would have been too large: no more replaying until the data changes. */
  private checkpointFull = false;
  /** The caches' fingerprint at rest (cacheFingerprint). */
  private cacheMark = 0;
  private view: DataView | undefined;
  readonly entrypoints: Record<string, number>;
  /** Builtins the policy imports from the host, by name. */
  readonly required: string[];

  private constructor(
    private readonly exports: PolicyExports,
    private readonly memory: WebAssembly.Memory,
    private readonly maximumPages: number | undefined,
    /** The address of OPA's array of builtin cache slots, and their count (0 when the build did not export them). */
    private readonly cachesAt: number,
    private readonly cacheSlots: number,
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
    // Scalars cross straight through memory once the instance has shown its layout is the one read (wasm-values.ts).
    let direct: WasmValues | undefined;
    const argument = (addr: number): RegoValue => {
      const value = direct ? direct.read(addr) : TEXT_PATH;
      return value !== TEXT_PATH ? value : readRegoValue(dumpValue(exports!, memory, addr), { shape: "values" });
    };

    const call = (id: number, addrs: number[]): number => {
      const impl = byId[id];
      const name = names[id] ?? `#${id}`;
      if (!impl || !exports) throw new PolicyInstanceError(`builtin ${name} is not available at the edge`);
      options.checkBudget?.();
      let result: unknown;
      try {
        result = impl(...addrs.map(argument));
        if (result === undefined) return 0;
        const written = direct ? direct.write(result) : TEXT_PATH;
        return written !== TEXT_PATH ? written : writeValue(exports, memory, writeRegoValue(result), "value");
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
    const cachesAt = globalValue(exports.tollgate_builtin_caches) ?? 0;
    const slots = globalValue(exports.tollgate_builtin_cache_slots) ?? 0;
    // Read only where it can be: a module without the exports (built before them) replays nothing.
    const cacheSlots = cachesAt > 0 && slots > 0 && slots <= 64 && cachesAt + 4 * slots <= memory.buffer.byteLength ? slots : 0;
    const baseHeapPtr = exports.opa_heap_ptr_get();
    const values = new WasmValues(memory, exports);
    const loaded = exports;
    // Checked against the text path itself, OPA's parser and writer as other values cross. What the probe
    // allocates is above the heap's base: setting the data below releases it.
    const text = { parse: (value: string) => writeValue(loaded, memory, value, "value"), dump: (addr: number) => dumpValue(loaded, memory, addr) };
    if (probeWasmValues(text, values)) direct = values;
    const policy = new PolicyInstance(exports, memory, options.memory.maximum, cachesAt, cacheSlots, entrypoints, Object.keys(imported).sort());
    policy.baseHeapPtr = baseHeapPtr;
    policy.setData("{}");
    return policy;
  }

  /** Loads the policy's data document from its JSON text (numbers kept as written). */
  setData(dataJson: string): void {
    this.checkpoint = undefined;
    this.fillers = [];
    this.checkpointFull = false;
    this.exports.opa_heap_ptr_set(this.baseHeapPtr);
    this.dataAddr = writeValue(this.exports, this.memory, dataJson, "json");
    this.dataHeapPtr = this.exports.opa_heap_ptr_get();
    this.retainedBytes = retainedBytesFor(this.dataHeapPtr, this.maximumPages);
    this.cacheMark = this.cacheFingerprint();
  }

  /**
   * Evaluates an entrypoint for an input given as JSON text and returns the
   * result set in OPA's value syntax (`{{"result": …}}`, or `set()`).
   */
  evaluate(entrypoint: number, inputJson: string): string {
    this.prepare();
    const text = this.evaluateOnce(entrypoint, inputJson);
    const mark = this.cacheFingerprint();
    if (mark !== this.cacheMark) this.rememberFiller(entrypoint, inputJson);
    this.cacheMark = mark;
    return text;
  }

  /**
   * Resets the heap if it is due: after an evaluation that did not finish,
   * or once the heap has grown past its bound, when it rewinds to the
   * checkpoint and replays the inputs that filled a cache since (see
   * Checkpoint). `evaluate` calls it first; a caller whose builtins keep
   * state per evaluation (printed lines, a deadline) calls it before
   * setting that state up, so a replay's leaves none of it behind.
   */
  prepare(): void {
    if (this.evaluating) {
      // An evaluation that did not finish: nothing it left is trusted, the checkpoint's copy included.
      this.evaluating = false;
      this.checkpoint = undefined;
      this.fillers = [];
      this.resetToData();
    } else if (this.exports.opa_heap_ptr_get() - this.dataHeapPtr > this.retainedBytes) {
      this.rewind();
      if (this.fillers.length > 0) this.replayFillers();
    } else {
      return;
    }
    this.cacheMark = this.cacheFingerprint();
  }

  private evaluateOnce(entrypoint: number, inputJson: string): string {
    const exports = this.exports;
    this.evaluating = true;
    const input = writeValue(exports, this.memory, inputJson, "value");
    const ctx = exports.opa_eval_ctx_new();
    exports.opa_eval_ctx_set_input(ctx, input);
    exports.opa_eval_ctx_set_data(ctx, this.dataAddr);
    exports.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    if (exports.eval(ctx) !== 0) throw new PolicyInstanceError("policy evaluation failed");
    const text = dumpValue(exports, this.memory, exports.opa_eval_ctx_get_result(ctx));
    this.evaluating = false;
    return text;
  }

  /** Back to the checkpoint, or to the bare data when there is none (or it is from a smaller memory). */
  private rewind(): void {
    if (this.checkpoint?.memoryBytes !== this.memory.buffer.byteLength) this.checkpoint = undefined;
    if (this.checkpoint) new Uint8Array(this.memory.buffer).set(this.checkpoint.bytes);
    else this.resetToData();
  }

  /** Releases the heap above the data; also empties OPA's builtin caches, which live in it. */
  private resetToData(): void {
    this.exports.opa_heap_ptr_set(this.dataHeapPtr);
  }

  private rememberFiller(entrypoint: number, input: string): void {
    if (this.checkpointFull || this.fillers.length >= MAX_FILLERS || input.length > FILLER_MAX_CHARS) return;
    if (this.fillers.some((filler) => filler.entrypoint === entrypoint && filler.input === input)) return;
    this.fillers.push({ entrypoint, input });
  }

  /** Just after a rewind: evaluates the fillers again, answers discarded, and keeps the memory that results as the checkpoint. */
  private replayFillers(): void {
    const fillers = this.fillers;
    this.fillers = [];
    try {
      for (const filler of fillers) this.evaluateOnce(filler.entrypoint, filler.input);
    } catch {
      // A replay that did not finish leaves nothing to keep; the checkpoint it started from is still good.
      this.evaluating = false;
      this.rewind();
      return;
    }
    const heapPtr = this.exports.opa_heap_ptr_get();
    if (heapPtr > CHECKPOINT_MAX_BYTES || heapPtr - this.dataHeapPtr > this.retainedBytes / 2) {
      // Too large to copy back at each reset, or near enough to the bound that it would leave no room.
      this.checkpointFull = true;
      return;
    }
    this.checkpoint = { bytes: new Uint8Array(this.memory.buffer, 0, heapPtr).slice(), memoryBytes: this.memory.buffer.byteLength };
  }

  /**
   * A number that changes when an evaluation fills one of OPA's builtin
   * caches (see Filler): the slots' pointers, and for each cache the word
   * its size is kept in. 0 when the build exported no slots.
   */
  private cacheFingerprint(): number {
    if (this.cacheSlots === 0) return 0;
    if (this.view?.buffer !== this.memory.buffer) this.view = new DataView(this.memory.buffer);
    const view = this.view;
    let mark = 0;
    for (let slot = 0; slot < this.cacheSlots; slot++) {
      const cache = view.getUint32(this.cachesAt + 4 * slot, true);
      mark = (Math.imul(mark, 31) + cache) | 0;
      if (cache !== 0 && cache + 16 <= view.byteLength) mark = (Math.imul(mark, 31) + view.getUint32(cache + 12, true)) | 0;
    }
    return mark;
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
