import { readFileSync } from 'node:fs';
import { dockerStatus, kindBin, type DockerStatus } from './docker.ts';
import { missingImageTools, PROBE_IMAGE } from './image.ts';
import { imageExists } from './docker.ts';
import { kubectlBin } from './kube.ts';
import { run } from '../../util/run.ts';

// `netdojo doctor` for kind: what this host lacks to run kind labs, and how to fix each.
// Gathering (gatherKindHostFacts) is separate from judging (diagnoseKind) so the rules are tested
// with any combination of facts.

export interface KindHostFacts {
  docker: DockerStatus;
  /** `kind version` output, or undefined when kind is not installed. */
  kindVersion?: string;
  kubectlVersion?: string;
  /** '1' or '2': from the Docker daemon when reachable, else from /sys/fs/cgroup. */
  cgroupVersion?: string;
  inotify: { maxUserInstances?: number; maxUserWatches?: number };
  probeImage: boolean;
  missingImageTools: { name: string; pkg: string }[];
}

/** kind enforces NetworkPolicy (the dns-egress-dropped scenario) from v0.24.0. */
export const MIN_KIND = [0, 24, 0];
export const INOTIFY_INSTANCES = 512;
export const INOTIFY_WATCHES = 524288;

function readSysctl(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function hostCgroupVersion(): string | undefined {
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    return '2';
  } catch {
    return '1';
  }
}

export async function gatherKindHostFacts(opts: { kind?: string; kubectl?: string } = {}): Promise<KindHostFacts> {
  const docker = await dockerStatus();
  const kv = await run(opts.kind ?? kindBin(), ['version'], { timeoutMs: 15_000 });
  const kc = await run(opts.kubectl ?? kubectlBin(), ['version', '--client'], { timeoutMs: 15_000 });
  return {
    docker,
    kindVersion: kv.code === 0 ? kv.stdout.trim() : undefined,
    kubectlVersion: kc.code === 0 ? kc.stdout.trim().split('\n')[0] : undefined,
    cgroupVersion: docker.ok && docker.cgroupVersion ? docker.cgroupVersion : hostCgroupVersion(),
    inotify: {
      maxUserInstances: readSysctl('/proc/sys/fs/inotify/max_user_instances'),
      maxUserWatches: readSysctl('/proc/sys/fs/inotify/max_user_watches'),
    },
    probeImage: docker.ok ? await imageExists(PROBE_IMAGE) : false,
    missingImageTools: missingImageTools(),
  };
}

export function parseKindVersion(v: string): number[] | undefined {
  const m = v.match(/v(\d+)\.(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

const older = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** One line per problem: what is missing for kind labs, then how to fix it. Empty when ready. */
export function diagnoseKind(f: KindHostFacts): string[] {
  const out: string[] = [];
  if (f.docker.reason === 'docker not installed') {
    out.push('kind: docker not installed — install Docker Engine (Debian: apt-get install docker.io) and start it');
  } else if (!f.docker.ok) {
    out.push(`kind: docker daemon not reachable${f.docker.detail ? ` (${f.docker.detail})` : ''} — start it (systemctl start docker, or run dockerd as root) and make sure this user may use it (docker group)`);
  }
  if (!f.kindVersion) {
    out.push('kind: kind not installed — install a kind release binary (v0.24.0 or newer) into PATH, or `go install sigs.k8s.io/kind@latest`; NETDOJO_KIND names another binary');
  } else {
    const v = parseKindVersion(f.kindVersion);
    if (v && older(v, MIN_KIND) < 0) out.push(`kind: kind ${v.join('.')} does not enforce NetworkPolicy — upgrade to v${MIN_KIND.join('.')} or newer`);
  }
  if (!f.kubectlVersion) out.push('kind: kubectl not installed — install kubectl (any version within one minor of the node image) into PATH; NETDOJO_KUBECTL names another binary');
  if (f.cgroupVersion === '1') {
    out.push('kind: cgroup v1 — Kubernetes 1.35+ kubelets refuse cgroup v1: boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2), or set NETDOJO_KIND_NODE_IMAGE to a kindest/node image of 1.34 or older');
  }
  if (f.inotify.maxUserInstances !== undefined && f.inotify.maxUserInstances < INOTIFY_INSTANCES) {
    out.push(`kind: fs.inotify.max_user_instances is ${f.inotify.maxUserInstances} (several clusters need ${INOTIFY_INSTANCES}) — sysctl -w fs.inotify.max_user_instances=${INOTIFY_INSTANCES}`);
  }
  if (f.inotify.maxUserWatches !== undefined && f.inotify.maxUserWatches < INOTIFY_WATCHES) {
    out.push(`kind: fs.inotify.max_user_watches is ${f.inotify.maxUserWatches} (several clusters need ${INOTIFY_WATCHES}) — sysctl -w fs.inotify.max_user_watches=${INOTIFY_WATCHES}`);
  }
  if (f.missingImageTools.length) {
    out.push(`kind: cannot build ${PROBE_IMAGE}: this host lacks ${f.missingImageTools.map((t) => t.name).join(', ')} — apt-get install ${[...new Set(f.missingImageTools.map((t) => t.pkg))].join(' ')}`);
  } else if (f.docker.ok && !f.probeImage) {
    out.push(`kind: image ${PROBE_IMAGE} is not built — run \`netdojo images\` (builds it offline from this host's tools)`);
  }
  return out;
}

/** What is there, for a readable doctor report next to the problems. */
export function describeKindHost(f: KindHostFacts): string[] {
  return [
    `docker: ${f.docker.ok ? `daemon ${f.docker.serverVersion}` : f.docker.reason}`,
    `kind: ${f.kindVersion ?? 'not installed'}`,
    `kubectl: ${f.kubectlVersion ?? 'not installed'}`,
    `cgroup: v${f.cgroupVersion ?? '?'}`,
    `inotify: max_user_instances=${f.inotify.maxUserInstances ?? '?'} max_user_watches=${f.inotify.maxUserWatches ?? '?'}`,
    `image ${PROBE_IMAGE}: ${f.probeImage ? 'built' : 'not built'}`,
  ];
}
