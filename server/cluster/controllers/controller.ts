import type { ClusterApi } from '../api.ts';
import type { KubeObject } from '../object.ts';
import type { ResourceKind } from '../registry.ts';
import type { StoreEvent } from '../store.ts';

// How every controller of a lab runs, as Kubernetes' own do: watch the kinds it cares about, map
// each change to the keys of the objects it owns, and reconcile a key at a time: compare the
// desired state with the observed one and converge. A reconcile that fails is retried with a
// growing delay; one that succeeds may ask to be run again later (a backoff, a probe period).
// Reconciles of the same key never overlap; a key added while it runs is run again after it.

export interface ControllerContext {
  api: ClusterApi;
  /** Records an Event about an object, as a controller's EventRecorder does. */
  event(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): void;
  /** Logs a controller's failure (never thrown at the store). */
  log(message: string): void;
}

export type ReconcileResult = void | { requeueAfterMs: number };

export interface ControllerSpec {
  name: string;
  /** Kinds whose changes may concern this controller ('all': every kind, custom ones too). */
  watches: readonly ResourceKind[] | 'all';
  /** The keys to reconcile for a change (usually the object's own key or its owner's). */
  keysFor(e: StoreEvent, ctx: ControllerContext): string[];
  reconcile(key: string, ctx: ControllerContext): ReconcileResult | Promise<ReconcileResult>;
  /** Keys to reconcile once at start (everything the controller owns). */
  initialKeys?(ctx: ControllerContext): string[];
  /** Starts watching something outside the store (processes, files); returns how to stop it. */
  onStart?(ctx: ControllerContext, enqueue: (key: string) => void): () => void;
}

export const objectKey = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!);

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

const MAX_BACKOFF_MS = 5_000;

/** Runs one controller until the returned stop function is called. */
export interface RunningController {
  stop(): void;
  /** Resolves when nothing is queued or running (timers for later do not count). */
  idle(): Promise<void>;
  /** Queues a key from outside the store (a process exited, a file changed). */
  enqueue(key: string): void;
}

export function runController(spec: ControllerSpec, ctx: ControllerContext): RunningController {
  const dirty = new Set<string>();
  const running = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, number>();
  let stopped = false;
  let scheduled = false;
  let idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (dirty.size === 0 && running.size === 0 && !scheduled) { const w = idleWaiters; idleWaiters = []; w.forEach((f) => f()); }
  };

  const later = (key: string, ms: number) => {
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => { timers.delete(key); add(key); }, ms));
  };

  const runKey = async (key: string) => {
    running.add(key);
    try {
      const r = await spec.reconcile(key, ctx);
      failures.delete(key);
      if (r && r.requeueAfterMs >= 0 && !stopped) later(key, r.requeueAfterMs);
    } catch (e) {
      const n = (failures.get(key) ?? 0) + 1;
      failures.set(key, n);
      ctx.log(`${spec.name}: reconcile ${key} failed (attempt ${n}): ${(e as Error).stack ?? e}`);
      if (!stopped) later(key, Math.min(MAX_BACKOFF_MS, 50 * 2 ** n));
    } finally {
      running.delete(key);
      if (dirty.has(key)) schedule(); else settleIdle();
    }
  };

  const drain = () => {
    scheduled = false;
    if (stopped) return;
    for (const key of [...dirty]) {
      if (running.has(key)) continue;
      dirty.delete(key);
      void runKey(key);
    }
    settleIdle();
  };

  const schedule = () => {
    if (scheduled || stopped) return;
    scheduled = true;
    // Changes that arrive together (a create and its status) reconcile once.
    setImmediate(drain);
  };

  const add = (key: string) => { dirty.add(key); schedule(); };

  const unsubscribe = ctx.api.store.subscribe(undefined, (e) => {
    if (spec.watches !== 'all' && !spec.watches.includes(e.kind)) return;
    try { for (const k of spec.keysFor(e, ctx)) add(k); } catch (err) { ctx.log(`${spec.name}: keysFor failed: ${(err as Error).message}`); }
  });
  const stopExternal = spec.onStart?.(ctx, (key) => add(key));
  for (const k of spec.initialKeys?.(ctx) ?? []) add(k);

  return {
    stop() {
      stopped = true;
      unsubscribe();
      stopExternal?.();
      for (const t of timers.values()) clearTimeout(t);
    },
    idle() {
      return new Promise<void>((resolve) => { idleWaiters.push(resolve); settleIdle(); });
    },
    enqueue: add,
  };
}

/** The controller (owner) reference of an object, if any. */
export function controllerOf(o: KubeObject): { kind: string; name: string; uid: string } | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}
