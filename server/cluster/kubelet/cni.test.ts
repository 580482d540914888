import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kindnetConflist } from '../kindnet/cniconfig.ts';
import { CNI_CONF_DIR, loadCni } from './cni.ts';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A node's file system with these files in /etc/cni/net.d. */
function node(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'netdojo-cni-'));
  mkdirSync(join(root, CNI_CONF_DIR), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, CNI_CONF_DIR, name), text);
  return root;
}

describe('a node\'s CNI config, as containerd loads it', () => {
  it('gives pods kindnet\'s network: the node\'s podCIDR through host-local, the gateway at .1, the MTU kindnet wrote', async () => {
    expect(JSON.parse(kindnetConflist('10.244.1.0/24', 1500))).toMatchObject({ name: 'kindnet', plugins: [{ type: 'ptp' }, { type: 'portmap' }] });
    expect(await loadCni(node({ '10-kindnet.conflist': kindnetConflist('10.244.1.0/24', 1400) })))
      .toEqual({ ready: true, add: { ok: true, network: { subnet: '10.244.1.0/24', gateway: '10.244.1.1', routes: ['0.0.0.0/0'], mtu: 1400 } } });
  });

  it('has no network without a config file, or with one it cannot parse, whatever comes after it', async () => {
    root = mkdtempSync(join(tmpdir(), 'netdojo-cni-'));
    expect(await loadCni(root)).toEqual({ ready: false, reason: 'no network config found in /etc/cni/net.d' });
    rmSync(root, { recursive: true });
    // kindnet's temporary file has an extension containerd ignores.
    expect(await loadCni(node({ '10-kindnet.conflist.temp': kindnetConflist('10.244.1.0/24', 1500) }))).toMatchObject({ ready: false });
    rmSync(root, { recursive: true });
    expect(await loadCni(node({ '10-kindnet.conflist': '', '20-other.conflist': kindnetConflist('10.244.1.0/24', 1500) })))
      .toEqual({ ready: false, reason: 'failed to load CNI config file /etc/cni/net.d/10-kindnet.conflist: error parsing configuration list: Unexpected end of JSON input' });
    rmSync(root, { recursive: true });
    expect(await loadCni(node({ '10-kindnet.conflist': '{"cniVersion":"0.3.1","name":"kindnet","plugins":[]}' }))).toMatchObject({ ready: false, reason: expect.stringContaining('no networks') });
  });

  it('loads a network whose plugin the node does not have, and fails adding pods to it', async () => {
    const bridge = JSON.stringify({ cniVersion: '0.3.1', name: 'mynet', plugins: [{ type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] } }] });
    expect(await loadCni(node({ '10-bridge.conflist': bridge })))
      .toEqual({ ready: true, add: { ok: false, error: 'plugin type="bridge" failed (add): failed to find plugin "bridge" in path [/opt/cni/bin]' } });
  });

  it('takes a single .conf as a list of one, with its own gateway and no routes beyond its subnet', async () => {
    const conf = JSON.stringify({ cniVersion: '0.3.1', name: 'single', type: 'ptp', ipam: { type: 'host-local', subnet: '10.244.1.0/24', gateway: '10.244.1.254' } });
    expect(await loadCni(node({ '05-single.conf': conf, '10-kindnet.conflist': kindnetConflist('10.244.0.0/24', 1500) })))
      .toEqual({ ready: true, add: { ok: true, network: { subnet: '10.244.1.0/24', gateway: '10.244.1.254', routes: [], mtu: 1500 } } });
  });
});
