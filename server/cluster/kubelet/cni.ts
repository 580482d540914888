import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gatewayOf, intToIp, parseCIDR } from '../../util/ipv4.ts';

// A node's CNI configuration as containerd's CRI plugin sees it (go-cni over libcni). containerd
// watches /etc/cni/net.d and reloads on every change: the files ending .conf, .conflist or .json,
// in name order, the first one being the pod network (max_conf_num 1). A reload that fails (no
// file, a file that is not JSON, a list without plugins) leaves it with no pod network: its status
// says NetworkReady=false, "cni plugin not initialized", until a reload succeeds. Adding a pod to
// the network (CNI ADD) then runs each plugin of the list from /opt/cni/bin, where a kind node has
// the ptp, host-local, portmap and loopback plugins; the pod's address, gateway and MTU come from
// the ptp plugin's config and its host-local IPAM range.

/** Where a node keeps its CNI configuration, inside the node's file system. */
export const CNI_CONF_DIR = 'etc/cni/net.d';

/** go-cni's error while no network is loaded. */
export const CNI_NOT_INITIALIZED = 'cni plugin not initialized';

const EXTENSIONS = ['.conf', '.conflist', '.json'];
const PLUGIN_PATH = '/opt/cni/bin';
const KIND_PLUGINS = new Set(['ptp', 'host-local', 'portmap', 'loopback']);

export interface PodNetwork {
  /** The host-local range the pod's address comes from. */
  subnet: string;
  gateway: string;
  /** The IPAM's routes, through the gateway (kindnet's: the default route). */
  routes: string[];
  mtu: number;
}

/** What a CNI ADD with the loaded network gives a pod: its network, or the error containerd reports. */
export type CniAdd = { ok: true; network: PodNetwork } | { ok: false; error: string };

/** The network containerd has loaded from a node's config directory, or why it has none. */
export type CniState = { ready: true; add: CniAdd } | { ready: false; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** libcni's parse of a config list (or of a single config, as a list of one). */
function parseList(text: string, conflist: boolean): Obj[] | string {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { return `error parsing configuration${conflist ? ' list' : ''}: ${(e as Error).message}`; }
  if (!isObj(raw)) return `error parsing configuration${conflist ? ' list' : ''}: not an object`;
  if (!conflist) return typeof raw.type === 'string' && raw.type ? [raw] : "error parsing configuration: missing 'type'";
  if (typeof raw.name !== 'string' || !raw.name) return 'error parsing configuration list: no name';
  if (!Array.isArray(raw.plugins)) return "error parsing configuration list: no 'plugins' key";
  if (!raw.plugins.length) return 'CNI config list has no networks';
  for (const p of raw.plugins) if (!isObj(p) || typeof p.type !== 'string' || !p.type) return "error parsing configuration: missing 'type'";
  return raw.plugins as Obj[];
}

/** CNI ADD with the list's plugins: each must exist; the first, ptp, gives the pod its network. */
function add(plugins: Obj[]): CniAdd {
  const fail = (type: string, error: string): CniAdd => ({ ok: false, error: `plugin type="${type}" failed (add): ${error}` });
  for (const p of plugins) {
    if (!KIND_PLUGINS.has(p.type as string)) return fail(p.type as string, `failed to find plugin "${p.type}" in path [${PLUGIN_PATH}]`);
  }
  const main = plugins[0];
  if (main.type !== 'ptp') return fail(main.type as string, 'not a pod network plugin');
  const ipam = isObj(main.ipam) ? main.ipam : {};
  if (ipam.type !== 'host-local') return fail('ptp', ipam.type ? `failed to find plugin "${ipam.type}" in path [${PLUGIN_PATH}]` : 'IPAM plugin returned missing IP config');
  const range = Array.isArray(ipam.ranges) && Array.isArray(ipam.ranges[0]) && isObj(ipam.ranges[0][0]) ? ipam.ranges[0][0] : typeof ipam.subnet === 'string' ? { subnet: ipam.subnet, gateway: ipam.gateway } : undefined;
  if (!range) return fail('ptp', 'no IP ranges specified');
  const subnet = String(range.subnet ?? '');
  const cidr = parseCIDR(subnet);
  if (!cidr) return fail('ptp', `invalid CIDR ${subnet}`);
  const network = `${intToIp(cidr.net)}/${subnet.split('/')[1]}`;
  const routes = (Array.isArray(ipam.routes) ? ipam.routes : []).filter(isObj).map((r) => String(r.dst));
  if (routes.some((r) => !parseCIDR(r))) return fail('ptp', `invalid route dst in ${JSON.stringify(ipam.routes)}`);
  return { ok: true, network: { subnet: network, gateway: typeof range.gateway === 'string' ? range.gateway : gatewayOf(network), routes, mtu: typeof main.mtu === 'number' ? main.mtu : 1500 } };
}

/** Loads a node's CNI config directory (given inside the node's root) as containerd does. */
export async function loadCni(nodeRoot: string): Promise<CniState> {
  const dir = join(nodeRoot, CNI_CONF_DIR);
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  const files = entries.filter((e) => !e.isDirectory() && EXTENSIONS.some((x) => e.name.endsWith(x))).map((e) => e.name).sort();
  if (!files.length) return { ready: false, reason: `no network config found in /${CNI_CONF_DIR}` };
  const [first] = files;
  const text = await readFile(join(dir, first), 'utf8').catch((e: Error) => e);
  if (text instanceof Error) return { ready: false, reason: `failed to read config file /${CNI_CONF_DIR}/${first}: ${text.message}` };
  const plugins = parseList(text, first.endsWith('.conflist'));
  if (typeof plugins === 'string') return { ready: false, reason: `failed to load CNI config file /${CNI_CONF_DIR}/${first}: ${plugins}` };
  return { ready: true, add: add(plugins) };
}
