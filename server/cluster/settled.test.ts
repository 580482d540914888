import { describe, expect, it } from 'vitest';
import type { KubeObject } from './object.ts';
import { KindRegistry } from './registry.ts';
import { ChangeClock, inMotion } from './settled.ts';
import { ObjectStore } from './store.ts';

const ready = (status: 'True' | 'False') => ({ conditions: [{ type: 'Ready', status }] });
const pod = (name: string, status: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...meta }, spec: { containers: [] }, status }) as KubeObject;
const node = (name: string, status: 'True' | 'False'): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: ready(status) }) as KubeObject;

describe('inMotion', () => {
  it('is empty when every node and every running pod is Ready, and finished pods are left out', () => {
    expect(inMotion([pod('web', { phase: 'Running', ...ready('True') }), pod('job', { phase: 'Succeeded', ...ready('False') })], [node('worker', 'True')])).toEqual([]);
  });

  it('names what a probe, a timer or a node can still change', () => {
    expect(inMotion([
      pod('web', { phase: 'Running', ...ready('False') }),
      pod('new', { phase: 'Pending' }),
      pod('fresh', {}),
      pod('old', { phase: 'Running', ...ready('True') }, { deletionTimestamp: '2026-12-01T00:00:00Z' }),
    ], [node('worker', 'False'), node('control-plane', 'True')])).toEqual([
      'node worker: NotReady',
      'pod default/web: not Ready',
      'pod default/new: Pending',
      'pod default/fresh: Pending',
      'pod default/old: Terminating',
    ]);
  });
});

describe('ChangeClock', () => {
  it('counts quiet time from the last write of anything but an Event', () => {
    let now = 1000;
    const store = new ObjectStore(new KindRegistry());
    const clock = new ChangeClock(store, () => now);
    now = 5000;
    expect(clock.settledness()).toEqual({ quietMs: 4000, unsettled: [] });
    store.put('Node', node('worker', 'True'));
    now = 6000;
    expect(clock.settledness().quietMs).toBe(1000);
    // The kubelet's "Unhealthy" events say a state holds, not that it moves.
    store.put('Event', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'default' } } as KubeObject);
    now = 9000;
    expect(clock.settledness().quietMs).toBe(4000);
    store.put('Pod', pod('web', { phase: 'Running', ...ready('False') }));
    expect(clock.settledness()).toEqual({ quietMs: 0, unsettled: ['pod default/web: not Ready'] });
    clock.close();
    store.remove('Pod', 'default', 'web');
    now = 10_000;
    expect(clock.settledness().quietMs).toBe(1000);
  });
});
