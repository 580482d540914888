import { LabError } from '../../lab/types.ts';
import { describeKindHost, diagnoseKind, gatherKindHostFacts } from './doctor.ts';
import { containersByLabel, dockerStatus, imageExists, KIND_CLUSTER_LABEL, kindBin } from './docker.ts';
import { buildProbeImage, loadImages, PROBE_IMAGE } from './image.ts';
import { listRecords } from './record.ts';
import { run } from '../../util/run.ts';

// What the CLI and the server call for kind, beyond the Provider interface.

export interface ImagesResult {
  image: string;
  built: boolean;
  /** kind clusters of live labs the image was loaded into. */
  loadedInto: string[];
  /** Why loading was skipped, when it was. */
  note?: string;
}

/**
 * `netdojo images`: builds the probe/backend image offline when absent (or when rebuild), then
 * `kind load`s it into the cluster of every live kind lab, so nothing is ever pulled.
 */
export async function imagesCommand(opts: { rebuild?: boolean; onLine?: (line: string) => void } = {}): Promise<ImagesResult> {
  const d = await dockerStatus();
  if (!d.ok) throw new LabError(`${d.reason}${d.detail ? `: ${d.detail}` : ''}`, 'run `netdojo doctor`');
  let built = false;
  if (opts.rebuild || !(await imageExists(PROBE_IMAGE))) {
    await buildProbeImage({ onLine: opts.onLine });
    built = true;
  } else {
    opts.onLine?.(`${PROBE_IMAGE} is already built (--rebuild builds it again)`);
  }
  const result: ImagesResult = { image: PROBE_IMAGE, built, loadedInto: [] };
  const clusters: string[] = [];
  for (const r of await listRecords()) {
    if (r.state === 'ready' && (await containersByLabel(KIND_CLUSTER_LABEL, r.cluster)).some((c) => c.running)) clusters.push(r.cluster);
  }
  if (!clusters.length) return result;
  if ((await run(kindBin(), ['version'], { timeoutMs: 15_000 })).code !== 0) {
    result.note = 'kind not installed: the image was not loaded into any cluster';
    return result;
  }
  for (const c of clusters) {
    opts.onLine?.(`loading ${PROBE_IMAGE} into ${c}`);
    await loadImages(kindBin(), c);
    result.loadedInto.push(c);
  }
  return result;
}

/** `netdojo doctor`, kind part: what is there (one line each) and what is missing, with fixes. */
export async function kindDoctorReport(): Promise<{ host: string[]; problems: string[] }> {
  const f = await gatherKindHostFacts();
  return { host: describeKindHost(f), problems: diagnoseKind(f) };
}

