// Namespaces, ConfigMaps, Secrets and ServiceAccounts: a name, a count or a phase, an age.

import type { V1ConfigMap, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { since } from './format.ts';
import { ageColumn, column, nameColumn, printer } from './printer.ts';

// A namespace without a phase reads as Active (the v1 defaulting applied to every stored object).
export const namespacePrinter = printer<V1Namespace>(
  [nameColumn(), column('Status', 'string', 'The status of the namespace'), ageColumn()],
  (ns, now) => [ns.metadata?.name ?? '', ns.status?.phase || 'Active', since(now, ns.metadata?.creationTimestamp)],
);

export const configMapPrinter = printer<V1ConfigMap>(
  [
    nameColumn(),
    column('Data', 'string', "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
    ageColumn(),
  ],
  (cm, now) => [cm.metadata?.name ?? '', Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, since(now, cm.metadata?.creationTimestamp)],
);

// DATA counts keys after the v1 to internal conversion, which folds stringData into data; a secret
// without a type is Opaque.
export const secretPrinter = printer<V1Secret>(
  [
    nameColumn(),
    column('Type', 'string', 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types'),
    column('Data', 'string', "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    ageColumn(),
  ],
  (secret, now) => [
    secret.metadata?.name ?? '',
    secret.type || 'Opaque',
    new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]).size,
    since(now, secret.metadata?.creationTimestamp),
  ],
);

export const serviceAccountPrinter = printer<V1ServiceAccount>(
  [
    nameColumn(),
    column('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a "kubernetes.io/enforce-mountable-secrets" annotation set to "true". The "kubernetes.io/enforce-mountable-secrets" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret'),
    ageColumn(),
  ],
  (sa, now) => [sa.metadata?.name ?? '', (sa.secrets ?? []).length, since(now, sa.metadata?.creationTimestamp)],
);
