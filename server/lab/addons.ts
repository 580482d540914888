import { readFileSync } from 'node:fs';
import type { ProviderName } from './types.ts';
import { MANIFESTS_DIR } from './manifests.ts';

// Add-ons: shared sets of objects from manifests/ that a scenario asks for by name (`addons:
// [ingress-nginx]`), as a cluster admin installs them on kind: applied with kubectl before the
// scenario's own manifests, then waited for until they serve. Their files are the same on every
// provider except where the providers differ (kind enforces RBAC; the netns lab serves no RBAC
// objects and authorizes every service account).

export interface Addon {
  /** Files in manifests/, in the order they are applied, per provider. */
  manifests: Record<ProviderName, string[]>;
  /** A command that returns once the add-on serves (what its scenario's checks rely on). */
  ready: string;
}

export const ADDONS = {
  'ingress-nginx': {
    manifests: { netns: ['ingress-nginx.yaml'], kind: ['ingress-nginx.yaml', 'ingress-nginx-rbac.yaml'] },
    // On kind the controller image is pulled first: give it time.
    ready: 'kubectl -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s',
  },
} satisfies Record<string, Addon>;

export type AddonName = keyof typeof ADDONS;
export const ADDON_NAMES = Object.keys(ADDONS) as [AddonName, ...AddonName[]];

/** An add-on's files for a provider, with their text. */
export function addonManifests(name: AddonName, provider: ProviderName): { file: string; text: string }[] {
  return ADDONS[name].manifests[provider].map((file) => ({ file, text: readFileSync(`${MANIFESTS_DIR}${file}`, 'utf8') }));
}
