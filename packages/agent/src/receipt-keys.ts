/**
 * @module receipt-keys
 * The edge's receipt keys as the client knows them: the ones it was given
 * (pinned), or the edge's JWKS, fetched on first use, kept for five minutes
 * and fetched again at most once a minute when a receipt names a key not
 * in it (the edge rotated its key).
 */
import type { EdgeTransport } from "./edge-transport.ts";
import type { ReceiptKey } from "./receipt.ts";

const KEEP_MS = 5 * 60_000;
const REFETCH_AFTER_MS = 60_000;

export class ReceiptKeys {
  private keys: ReceiptKey[] | undefined;
  private fetchedMs = Number.NEGATIVE_INFINITY;
  private fetching: Promise<ReceiptKey[]> | undefined;

  constructor(
    private readonly transport: EdgeTransport,
    private readonly pinned?: { keys: ReceiptKey[] },
  ) {}

  /** The keys to verify a receipt signed by `kid` with. */
  async forKey(kid: unknown, nowMs: number): Promise<ReceiptKey[]> {
    if (this.pinned) return this.pinned.keys;
    const known = this.keys?.some((key) => key.kid === kid);
    const old = nowMs - this.fetchedMs > KEEP_MS;
    const mayRefetch = nowMs - this.fetchedMs > REFETCH_AFTER_MS;
    if (this.keys && !old && (known || !mayRefetch)) return this.keys;
    this.fetching ??= this.transport
      .call<{ keys?: unknown }>("GET", "/.well-known/jwks.json", { anonymous: true })
      .then(({ body }) => {
        this.keys = Array.isArray(body.keys) ? (body.keys as ReceiptKey[]) : [];
        this.fetchedMs = nowMs;
        return this.keys;
      })
      .finally(() => (this.fetching = undefined));
    return this.fetching;
  }
}
