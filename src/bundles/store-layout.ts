/**
 * @module store-layout
 * Where things live in the R2 bundle store. Layers are immutable once
 * written (a version is never rewritten); the current snapshot is the one
 * mutable object, replaced with a conditional write so two publishes cannot
 * overwrite each other.
 */
export const CURRENT_SNAPSHOT_KEY = "snapshots/current.json";

export const snapshotKey = (version: number) => `snapshots/${String(version).padStart(12, "0")}.json`;

export const layerPrefix = (scope: string, version: number) => `layers/${scope}/${String(version).padStart(16, "0")}/`;

export const layerKey = (scope: string, version: number, file: string) => `${layerPrefix(scope, version)}${file}`;

/** Publish, rollback and refusal records: who, what, when, outcome. */
export const publishLogKey = (at: Date, scope: string, id: string) => `log/publish/${at.toISOString()}-${scope}-${id}.json`;
