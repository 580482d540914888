import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The base cluster as Kubernetes YAML (manifests/), shared by the providers: the netns lab applies
// system.yaml (what kind itself creates) and workloads.yaml; a kind lab applies workloads.yaml.

export const MANIFESTS_DIR = fileURLToPath(new URL('../../manifests/', import.meta.url));

export type BaseManifest = 'system.yaml' | 'workloads.yaml';

export const readManifest = (name: BaseManifest): string => readFileSync(`${MANIFESTS_DIR}${name}`, 'utf8');
