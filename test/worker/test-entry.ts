/**
 * The Worker the tests run: the production entry exactly, except that two
 * Durable Object classes are test subclasses with drill hooks (an object
 * that fails the way an overloaded, flaky or slow one does; an audit writer
 * that crashes). The hooks live here, never in the production classes.
 */
import { AuditChainDO as ProductionAuditChainDO } from "../../src/audit/chain-do";
import type { ChainRecord } from "../../src/audit/chain";
import { SessionDO as ProductionSessionDO } from "../../src/session/session-do";
import type { CommitRequest, CommitResult } from "../../src/session/types";

export { default } from "../../src/index";
export * from "../../src/index";

export type Fault = { kind: "overloaded" | "retryable" | "slow"; remaining: number; delayMs?: number };

export class SessionDO extends ProductionSessionDO {
  private fault: Fault | undefined;

  /** Makes the next commits fail the way an overloaded, flaky or slow object does. */
  async injectFault(fault: Fault | null): Promise<void> {
    this.fault = fault ?? undefined;
  }

  override async commit(request: CommitRequest): Promise<CommitResult> {
    const fault = this.fault;
    if (fault && fault.remaining > 0) {
      fault.remaining--;
      if (fault.kind === "slow") await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
      else if (fault.kind === "retryable") throw Object.assign(new Error("Network connection lost."), { retryable: true });
      else throw Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true });
    }
    return super.commit(request);
  }
}

export class AuditChainDO extends ProductionAuditChainDO {
  private failing = 0;
  private losingAnswers = 0;

  /** The next `count` appends fail as a crashed writer would. */
  async failNext(count: number): Promise<void> {
    this.failing = count;
  }

  /** The next `count` appends commit, and then fail as a connection cut before the answer would. */
  async loseNextAnswers(count: number): Promise<void> {
    this.losingAnswers = count;
  }

  override async append(records: ChainRecord[]): Promise<{ appended: number; duplicates: number; rejected: number }> {
    if (this.failing > 0) {
      this.failing--;
      throw new Error("audit writer failed (injected)");
    }
    const result = await super.append(records);
    if (this.losingAnswers > 0) {
      this.losingAnswers--;
      throw new Error("Network connection lost. (injected, after the append committed)");
    }
    return result;
  }
}
