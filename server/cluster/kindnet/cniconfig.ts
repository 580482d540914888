import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControllerSpec } from '../controllers/controller.ts';
import { runningDaemonPod } from '../controllers/daemonpod.ts';
import { CNI_CONF_DIR } from '../kubelet/cni.ts';
import { nodeRoot, type PodRuntime } from '../kubelet/runtime.ts';

// kindnet's CNI config: kindnetd writes /etc/cni/net.d/10-kindnet.conflist on its node (the ptp
// plugin, host-local IPAM over the node's podCIDR, eth0's MTU) through a temporary file renamed
// into place, so containerd never loads half a file. It remembers what it wrote and writes again
// only when that changes (the node's podCIDR): a file deleted or emptied under a running kindnetd
// stays so until kindnetd starts again, which writes it once at start.

/** The path kindnetd writes, inside the node's file system. */
export const KINDNET_CONFLIST = join(CNI_CONF_DIR, '10-kindnet.conflist');

/** The file as kindnetd's template renders it for a single-stack IPv4 node, byte for byte. */
export function kindnetConflist(podCIDR: string, mtu: number): string {
  return `
{
	"cniVersion": "0.3.1",
	"name": "kindnet",
	"plugins": [
	{
		"type": "ptp",
		"ipMasq": false,
		"ipam": {
			"type": "host-local",
			"dataDir": "/run/cni-ipam-state",
			"routes": [
				
				
				{ "dst": "0.0.0.0/0" }
			],
			"ranges": [
				
				
				[ { "subnet": "${podCIDR}" } ]
			]
		}
		,
		"mtu": ${mtu}
		
	},
	{
		"type": "portmap",
		"capabilities": {
			"portMappings": true
		}
	}
	]
}
`;
}

/** Writes kindnet's conflist into a node's file system, as kindnetd does: a temporary file renamed into place. */
export async function writeKindnetConflist(nodeRoot: string, podCIDR: string, mtu: number): Promise<void> {
  const path = join(nodeRoot, KINDNET_CONFLIST);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(`${path}.temp`, kindnetConflist(podCIDR, mtu));
  await rename(`${path}.temp`, path);
}

export interface KindnetCniOptions {
  runtime: PodRuntime;
  nodes: () => { name: string; podCIDR: string }[];
}

export function kindnetCniConfig(o: KindnetCniOptions): ControllerSpec {
  // What each node's kindnetd remembers having written, kept beside the lab's other runtime state:
  // the process that hosts the controllers may restart while kindnetd's pod keeps running.
  const memory = (node: string) => join(o.runtime.dataDir, 'run', `kindnet-cni-${node}`);
  return {
    name: 'kindnet-cni-config',
    watches: ['Pod'],
    keysFor: (e) => (e.object.metadata.labels?.['k8s-app'] === 'kindnet' ? o.nodes().map((n) => n.name) : []),
    initialKeys: () => o.nodes().map((n) => n.name),
    async reconcile(node, ctx) {
      const instance = runningDaemonPod(ctx, 'kindnet', node);
      const podCIDR = o.nodes().find((n) => n.name === node)?.podCIDR;
      if (!instance || !podCIDR) return;
      const inputs = `${instance} ${podCIDR}`;
      if ((await readFile(memory(node), 'utf8').catch(() => '')) === inputs) return;
      // kindnetd takes the MTU of the node's eth0 when it starts.
      const r = await o.runtime.inNode(node, 'cat /sys/class/net/eth0/mtu');
      const mtu = Number(r.stdout.trim());
      if (r.code !== 0 || !mtu) throw new Error(`kindnet on ${node}: no MTU for eth0: ${(r.stdout + r.stderr).trim()}`);
      await writeKindnetConflist(nodeRoot(o.runtime.dataDir, node), podCIDR, mtu);
      await writeFile(memory(node), inputs);
    },
  };
}
