import type { KindInfo } from '../kinds.ts';
import type { JsonSchema } from './definition.ts';

// A custom kind's OpenAPI v3 component schemas, as kube-apiserver publishes a CRD version's: the
// openAPIV3Schema with apiVersion, kind and metadata (a reference to ObjectMeta) filled in and the
// kind's x-kubernetes-group-version-kind, and a <Kind>List beside it. Names reverse the group's
// domain as upstream does: gateway.networking.k8s.io/v1 Gateway → io.k8s.networking.gateway.v1.Gateway.

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const REF = '#/components/schemas/';

const API_VERSION_DOC = 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DOC = 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';

const customSchemaName = (info: Pick<KindInfo, 'group' | 'version'>, kind: string) =>
  [...info.group.split('.').reverse(), info.version, kind].join('.');

export interface NamedSchema { name: string; schema: Record<string, unknown> }

/** The object's and the list's schemas; their metadata refer to ObjectMeta and ListMeta, which the
 *  document must carry too. */
export function customKindSchemas(info: KindInfo, schema: JsonSchema | undefined): { object: NamedSchema; list: NamedSchema } {
  const gvk = (kind: string) => [{ group: info.group, kind, version: info.version }];
  const objectName = customSchemaName(info, info.kind);
  const { properties, ...rest } = schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    object: {
      name: objectName,
      schema: {
        ...rest,
        type: 'object',
        properties: {
          apiVersion: { type: 'string', description: API_VERSION_DOC },
          kind: { type: 'string', description: KIND_DOC },
          metadata: { allOf: [{ $ref: `${REF}${META}.ObjectMeta` }], description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" },
          ...Object.fromEntries(Object.entries(properties ?? {}).filter(([k]) => k !== 'apiVersion' && k !== 'kind' && k !== 'metadata')),
        },
        'x-kubernetes-group-version-kind': gvk(info.kind),
      },
    },
    list: {
      name: customSchemaName(info, `${info.kind}List`),
      schema: {
        description: `${info.kind}List is a list of ${info.kind}`,
        type: 'object',
        required: ['items'],
        properties: {
          apiVersion: { type: 'string', description: API_VERSION_DOC },
          items: { type: 'array', description: `List of ${info.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`, items: { $ref: `${REF}${objectName}` } },
          kind: { type: 'string', description: KIND_DOC },
          metadata: { allOf: [{ $ref: `${REF}${META}.ListMeta` }], description: 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds' },
        },
        'x-kubernetes-group-version-kind': gvk(`${info.kind}List`),
      },
    },
  };
}
