import { LabError, type Provider, type ProviderName } from '../lab/types.ts';

export const PROVIDERS: ProviderName[] = ['netns', 'kind'];

// Loaded on demand: the kind provider pulls in the Kubernetes client, which netns labs never need.
export async function getProvider(name: string): Promise<Provider> {
  switch (name) {
    case 'netns':
      return (await import('./netns/index.ts')).netnsProvider;
    case 'kind':
      return (await import('./kind/index.ts')).kindProvider;
    default:
      throw new LabError(`unknown provider "${name}"; expected one of: ${PROVIDERS.join(', ')}`);
  }
}
