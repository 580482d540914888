import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.ts';
import { TEST_NODES } from './testing/cluster.ts';
import { widgetDefinition } from './testing/crd.ts';

// A lab's objects outlive its cluster host: a host started on the same state file serves the
// custom kinds its definitions established, with their objects.

const dir = mkdtempSync(join(tmpdir(), 'netdojo-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newCluster = (stateFile: string) => new Cluster({
  name: 'netdojo-test', caCert: 'test CA', token: 'test-token', nodes: TEST_NODES, apiEndpoint: { ip: '172.18.0.2', port: 6443 }, stateFile,
});

/** Resolves once the file holds `text` (the store is saved shortly after each change). */
async function saved(file: string, text: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setImmediate(r))) {
    if ((() => { try { return readFileSync(file, 'utf8').includes(text); } catch { return false; } })()) return;
  }
  throw new Error(`${file} never held ${text}`);
}

describe('a cluster resumed from its saved objects', () => {
  it('serves the custom kinds of its definitions, and their objects', async () => {
    const file = join(dir, 'objects.json');
    const first = newCluster(file);
    await first.start([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }]);
    first.api.create('CustomResourceDefinition', undefined, widgetDefinition());
    await first.settle();
    first.api.create('widgets.example.com', 'default', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'kept' }, spec: { size: 2 } });
    await saved(file, '"name":"kept"');
    await first.stop();

    const second = newCluster(file);
    await second.start([]);
    try {
      expect(second.kinds.byPlural('example.com', 'v1beta1', 'widgets')?.kind).toBe('widgets.example.com');
      expect(second.api.get('widgets.example.com', 'default', 'kept').spec).toEqual({ size: 2, colour: 'red' });
    } finally {
      await second.stop();
    }
  });
});
