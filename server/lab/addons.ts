import { readFileSync } from 'node:fs';
import type { ProviderName } from './types.ts';
import { MANIFESTS_DIR } from './manifests.ts';

// Add-ons: shared sets of objects from manifests/ that a scenario asks for by name (`addons:
// [ingress-nginx]`), as a cluster admin installs them on kind: applied with kubectl before the
// scenario's own manifests, then waited for until they serve. Their files are the same on every
// provider except where the providers differ (kind enforces RBAC; the netns lab serves no RBAC
// objects and authorizes every service account).

export const ADDON_NAMES = ['ingress-nginx', 'gateway-api'] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

export interface Addon {
  /** Files in manifests/, in the order they are applied, per provider. */
  manifests: Record<ProviderName, string[]>;
  /** A command that returns once the add-on serves (what its scenario's checks rely on), per provider. */
  ready: Record<ProviderName, string>;
  /** Add-ons it builds on, installed before it. */
  needs?: AddonName[];
  /**
   * Whether a provider may create its objects together with the cluster's own (the netns lab does,
   * so its pods start beside the base ones). Not for add-ons with custom resources, which must
   * wait for their definitions to be established.
   */
  withCluster?: boolean;
}

const INGRESS_NGINX_READY = 'kubectl -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s';

export const ADDONS: Readonly<Record<AddonName, Addon>> = {
  'ingress-nginx': {
    manifests: { netns: ['ingress-nginx.yaml'], kind: ['ingress-nginx.yaml', 'ingress-nginx-rbac.yaml'] },
    // On kind the controller image is pulled first: give it time.
    ready: { netns: INGRESS_NGINX_READY, kind: INGRESS_NGINX_READY },
    withCluster: true,
  },
  // The Gateway API's CRDs and the GatewayClass `nginx` of the ingress-nginx controller, which in
  // the netns lab implements them. The real ingress-nginx image does not: on kind the CRDs are
  // served, but the class is never accepted.
  'gateway-api': {
    manifests: { netns: ['gateway-api-crds.yaml', 'gateway-class-nginx.yaml'], kind: ['gateway-api-crds.yaml', 'gateway-class-nginx.yaml'] },
    ready: {
      netns: 'kubectl wait --for=condition=Accepted gatewayclass/nginx --timeout=60s',
      kind: 'kubectl wait --for=condition=Established crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io --timeout=60s',
    },
    needs: ['ingress-nginx'],
  },
};

/** The add-ons a scenario names with those they need, each once, every one after what it needs. */
export function withNeeds(names: readonly AddonName[]): AddonName[] {
  const out: AddonName[] = [];
  const add = (name: AddonName) => {
    if (out.includes(name)) return;
    for (const need of ADDONS[name].needs ?? []) add(need);
    out.push(name);
  };
  names.forEach(add);
  return out;
}

/** An add-on's files for a provider, with their text. */
export function addonManifests(name: AddonName, provider: ProviderName): { file: string; text: string }[] {
  return ADDONS[name].manifests[provider].map((file) => ({ file, text: readFileSync(`${MANIFESTS_DIR}${file}`, 'utf8') }));
}
