/**
 * @module sandbox-lane
 * One sandbox's calls, shared by the decisions that need it at the same
 * time. At most a few calls are in flight (maxInFlight); decisions that
 * arrive meanwhile wait, and the next call carries all of them (up to
 * maxBatch). Alone, a decision is sent at once and waits for nothing; under
 * load, what a call costs (crossing into the sandbox and back) is paid once
 * per batch instead of once per decision.
 *
 * A Worker's I/O belongs to the request that started it: a call one request
 * sends is cancelled with that request. So a batch is always sent by one of
 * its own decisions, from its own request (the leader), which keeps it
 * alive (`keepAlive`, the request's waitUntil); answers reach the others as
 * promises settled across requests, and a lane that frees up wakes every
 * waiting decision, each in its own request, so that one whose request is
 * gone cannot hold up the rest. A leader's request can still be cut (its
 * caller hangs up), and its call with it. So no decision relies on another's
 * call for long: one still waiting after STALL_MS sends the next call
 * itself, and one in a call with others that has not answered by then is
 * asked again on its own (BatchLost). A healthy call takes well under a
 * millisecond; a stalled one costs the decisions behind it STALL_MS, never
 * their answer.
 */

/** The call carrying a batch failed as a whole; the decision may be asked again on its own. */
export class BatchLost extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/** How long a decision waits on a call another request sent before it stops relying on it. */
export const STALL_MS = 50;

/** The lane was given up on (its sandbox abandoned) before the decision was sent; it goes to the new one. */
export class LaneClosed extends Error {}

interface Answer<Ans> {
  promise: Promise<Ans>;
  resolve(answer: Ans): void;
  reject(error: unknown): void;
}

function pending<Ans>(): Answer<Ans> {
  let resolve!: (answer: Ans) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Ans>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Entry<Req, Ans> {
  request: Req;
  answer: Answer<Ans>;
  /** In a call (or answered): only its call answers it now. */
  taken: boolean;
  /** Its call carries it alone. */
  alone?: boolean;
  /** Set while it waits for the lane to be free. */
  wake?: () => void;
}

export class CallLane<Req, Ans> {
  /** The calls in flight, by number; stalled ones are dropped from it, not waited for. */
  private readonly inFlight = new Set<number>();
  private calls = 0;
  private closed = false;
  private readonly waiting: Entry<Req, Ans>[] = [];

  /**
   * `maxBatch`: at most this many decisions in one call.
   * `maxInFlight`: at most this many calls in flight, but for those sent past a stall.
   * `onIdle`: the lane has nothing in flight and nothing waiting (it may be forgotten).
   */
  constructor(
    private readonly maxBatch: number,
    private readonly maxInFlight: number,
    private readonly onIdle: () => void,
  ) {}

  /**
   * `request`'s answer. `call` sends one batch, in order, and answers in the
   * same order; it runs in the request of the batch's leader, whose
   * `keepAlive` holds that request open until the batch is answered.
   */
  async submit(request: Req, call: (requests: Req[]) => Promise<Ans[]>, keepAlive?: (work: Promise<unknown>) => void): Promise<Ans> {
    if (this.closed) throw new LaneClosed("the sandbox was abandoned");
    const entry: Entry<Req, Ans> = { request, answer: pending<Ans>(), taken: false };
    this.waiting.push(entry);
    while (!entry.taken) {
      if (this.closed) throw new LaneClosed("the sandbox was abandoned");
      if (this.inFlight.size < this.maxInFlight) {
        this.lead(entry, call, keepAlive);
        break;
      }
      // Created here, resolved from the request whose call freed the lane: the loop goes on in this request.
      const woken = await this.within(new Promise<boolean>((resolve) => (entry.wake = () => resolve(true))), false);
      entry.wake = undefined;
      if (!woken && !entry.taken && !this.closed) {
        // No call in flight has come back: their requests may be gone. They no longer count, and
        // this one sends the next (a lost call would otherwise hold its place for good).
        this.inFlight.clear();
        this.lead(entry, call, keepAlive);
        break;
      }
    }
    // A call of its own is this decision's alone: nothing to stall on but itself (its deadline covers it).
    if (entry.alone) return entry.answer.promise;
    // In a call with others: its answer, unless that call stalls (its sender's request gone, or another's input slow).
    const answered = await this.within(entry.answer.promise.then((answer) => ({ answer })), undefined);
    if (answered === undefined) throw new BatchLost(new Error(`the call carrying it did not answer within ${STALL_MS} ms`));
    return answered.answer;
  }

  /** `work`, or `otherwise` once STALL_MS have passed without it. */
  private within<T, U>(work: Promise<T>, otherwise: U): Promise<T | U> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<U>((resolve) => (timer = setTimeout(() => resolve(otherwise), STALL_MS)));
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  /** Gives the lane up: what waits is told to go elsewhere; what is in flight is answered as it comes. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  /** Sends `leader` and up to maxBatch − 1 of those waiting behind it, in arrival order. */
  private lead(leader: Entry<Req, Ans>, call: (requests: Req[]) => Promise<Ans[]>, keepAlive?: (work: Promise<unknown>) => void): void {
    const batch = [leader];
    for (const entry of this.waiting) {
      if (batch.length >= this.maxBatch) break;
      if (entry !== leader) batch.push(entry);
    }
    for (const entry of batch) {
      entry.taken = true;
      entry.alone = batch.length === 1;
      this.waiting.splice(this.waiting.indexOf(entry), 1);
    }
    const id = ++this.calls;
    this.inFlight.add(id);
    let sent: Promise<Ans[]>;
    try {
      sent = call(batch.map((entry) => entry.request));
    } catch (error) {
      sent = Promise.reject(error);
    }
    const handedOver = sent
      .then(
        (answers) => batch.forEach((entry, i) => (i < answers.length ? entry.answer.resolve(answers[i]!) : entry.answer.reject(new BatchLost(new Error("the sandbox answered fewer decisions than it was sent"))))),
        (error) => batch.forEach((entry) => entry.answer.reject(batch.length > 1 ? new BatchLost(error) : error)),
      )
      .finally(() => {
        this.inFlight.delete(id);
        if (this.waiting.length > 0) this.wakeAll();
        else if (this.inFlight.size === 0) this.onIdle();
      });
    keepAlive?.(handedOver);
  }

  private wakeAll(): void {
    for (const entry of this.waiting) entry.wake?.();
    if (this.closed) this.waiting.length = 0;
  }
}
