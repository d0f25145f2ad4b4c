/**
 * @module file-spool
 * The spool as a file of JSON lines, for Node, Deno and Bun (anything with
 * `node:fs`). An append is one line written and flushed before the decision
 * is returned, so a crash loses no decision the agent acted on; a line cut
 * short by a crash is reported as corrupt and set aside in `<file>.corrupt`,
 * never uploaded and never blocking the others; entries the edge refused
 * are kept in `<file>.refused` with the reason. Dropping uploaded entries
 * rewrites the file through a temporary file and a rename, so a crash
 * mid-drop leaves either the old file or the new one.
 */
import { isEntry, type SpoolEntry, type SpoolStore } from "./spool.ts";

type Fs = typeof import("node:fs/promises");
type PathModule = typeof import("node:path");

// Named in variables so bundlers for the browser leave them alone; only this store needs them.
const FS_MODULE = "node:fs/promises";
const PATH_MODULE = "node:path";

export class FileSpoolStore implements SpoolStore {
  private modules: Promise<{ fs: Fs; path: PathModule }> | undefined;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  private nodeModules() {
    this.modules ??= Promise.all([import(FS_MODULE) as Promise<Fs>, import(PATH_MODULE) as Promise<PathModule>]).then(([fs, path]) => ({ fs, path }));
    return this.modules;
  }

  /** One write at a time, in order: appends and drops never interleave. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.writing.then(work, work);
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<{ entries: SpoolEntry[]; bad: string[] }> {
    const { fs } = await this.nodeModules();
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return { entries: [], bad: [] };
      throw error;
    }
    const entries: SpoolEntry[] = [];
    const bad: string[] = [];
    for (const line of text.split("\n")) {
      if (line.length === 0) continue;
      try {
        const value = JSON.parse(line) as unknown;
        if (isEntry(value)) entries.push(value);
        else bad.push(line);
      } catch {
        bad.push(line);
      }
    }
    return { entries, bad };
  }

  async load() {
    return this.serial(async () => {
      const { entries, bad } = await this.read();
      if (bad.length > 0) await this.rewrite(entries, bad);
      return { entries, corrupt: bad.length };
    });
  }

  async append(entry: SpoolEntry) {
    return this.serial(async () => {
      const { fs, path } = await this.nodeModules();
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      const handle = await fs.open(this.file, "a", 0o600);
      try {
        await handle.write(`${JSON.stringify(entry)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }

  async drop(throughSeq: number) {
    return this.serial(async () => {
      const { entries, bad } = await this.read();
      await this.rewrite(
        entries.filter((entry) => entry.seq > throughSeq),
        bad,
      );
    });
  }

  async setAside(entries: Array<SpoolEntry & { refused: { code: string; message: string } }>) {
    return this.serial(async () => {
      const { fs } = await this.nodeModules();
      await fs.appendFile(`${this.file}.refused`, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""), { mode: 0o600 });
    });
  }

  /** Writes the entries kept, and sets unreadable lines aside in `<file>.corrupt`. */
  private async rewrite(entries: SpoolEntry[], bad: string[]): Promise<void> {
    const { fs } = await this.nodeModules();
    if (bad.length > 0) await fs.appendFile(`${this.file}.corrupt`, bad.map((line) => `${line}\n`).join(""), { mode: 0o600 });
    const temporary = `${this.file}.${crypto.randomUUID()}.tmp`;
    await fs.writeFile(temporary, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""), { mode: 0o600 });
    await fs.rename(temporary, this.file);
  }
}
