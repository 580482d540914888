import { z } from 'zod';

// A CustomResourceDefinition (apiextensions.k8s.io/v1) as the API server reads it: the shape is
// checked here, once, at the boundary (admission, and the registry reading stored definitions);
// the rules between fields (names, versions, printer columns) are in ../admission/crd.ts.

/** JSONSchemaProps: the subset of OpenAPI v3 a structural schema is made of, plus Kubernetes'
 *  extensions. Unknown keywords are kept (and ignored), as the API server keeps them. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  not?: JsonSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
  [keyword: string]: unknown;
}

/** A CEL rule on a schema node; `reason` picks the kind of field error a failure is. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

const validationRule = z.object({
  rule: z.string(),
  message: z.string().optional(),
  messageExpression: z.string().optional(),
  reason: z.enum(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']).optional(),
  fieldPath: z.string().optional(),
});

const jsonSchema: z.ZodType<JsonSchema> = z.lazy(() => z.looseObject({
  type: z.enum(['object', 'array', 'string', 'integer', 'number', 'boolean']).optional(),
  description: z.string().optional(),
  format: z.string().optional(),
  properties: z.record(z.string(), jsonSchema).optional(),
  additionalProperties: z.union([z.boolean(), jsonSchema]).optional(),
  items: jsonSchema.optional(),
  required: z.array(z.string()).optional(),
  enum: z.array(z.unknown()).optional(),
  default: z.unknown().optional(),
  nullable: z.boolean().optional(),
  pattern: z.string().optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  exclusiveMinimum: z.boolean().optional(),
  exclusiveMaximum: z.boolean().optional(),
  minLength: z.number().int().optional(),
  maxLength: z.number().int().optional(),
  minItems: z.number().int().optional(),
  maxItems: z.number().int().optional(),
  minProperties: z.number().int().optional(),
  maxProperties: z.number().int().optional(),
  allOf: z.array(jsonSchema).optional(),
  anyOf: z.array(jsonSchema).optional(),
  oneOf: z.array(jsonSchema).optional(),
  not: jsonSchema.optional(),
  'x-kubernetes-preserve-unknown-fields': z.boolean().optional(),
  'x-kubernetes-int-or-string': z.boolean().optional(),
  'x-kubernetes-embedded-resource': z.boolean().optional(),
  'x-kubernetes-list-type': z.enum(['atomic', 'set', 'map']).optional(),
  'x-kubernetes-list-map-keys': z.array(z.string()).optional(),
  'x-kubernetes-map-type': z.enum(['atomic', 'granular']).optional(),
  'x-kubernetes-validations': z.array(validationRule).optional(),
}));

const names = z.object({
  plural: z.string(),
  singular: z.string().optional(),
  kind: z.string(),
  listKind: z.string().optional(),
  shortNames: z.array(z.string()).optional(),
  categories: z.array(z.string()).optional(),
});

export type CustomResourceNames = z.infer<typeof names>;

const PRINTER_COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'] as const;

const printerColumn = z.object({
  name: z.string(),
  type: z.enum(PRINTER_COLUMN_TYPES),
  jsonPath: z.string(),
  format: z.string().optional(),
  description: z.string().optional(),
  priority: z.number().int().optional(),
});

export type PrinterColumn = z.infer<typeof printerColumn>;

const definitionVersion = z.object({
  name: z.string(),
  served: z.boolean(),
  storage: z.boolean(),
  deprecated: z.boolean().optional(),
  deprecationWarning: z.string().optional(),
  schema: z.object({ openAPIV3Schema: jsonSchema.optional() }).optional(),
  subresources: z.object({
    status: z.looseObject({}).optional(),
    scale: z.object({ specReplicasPath: z.string(), statusReplicasPath: z.string(), labelSelectorPath: z.string().optional() }).optional(),
  }).optional(),
  additionalPrinterColumns: z.array(printerColumn).optional(),
});

export type DefinitionVersion = z.infer<typeof definitionVersion>;

const SCOPES = ['Cluster', 'Namespaced'] as const;

const condition = z.looseObject({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().optional(),
});

export type DefinitionCondition = z.infer<typeof condition>;

export const customResourceDefinition = z.looseObject({
  apiVersion: z.literal('apiextensions.k8s.io/v1'),
  kind: z.literal('CustomResourceDefinition'),
  metadata: z.looseObject({
    name: z.string(), deletionTimestamp: z.string().optional(), finalizers: z.array(z.string()).optional(), annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object({
    group: z.string(),
    names,
    scope: z.enum(SCOPES),
    versions: z.array(definitionVersion),
    conversion: z.looseObject({ strategy: z.enum(['None', 'Webhook']) }).optional(),
    preserveUnknownFields: z.boolean().optional(),
  }),
  status: z.looseObject({
    acceptedNames: names.partial().optional(),
    conditions: z.array(condition).optional(),
    storedVersions: z.array(z.string()).optional(),
  }).optional(),
});

export type CustomResourceDefinition = z.infer<typeof customResourceDefinition>;

/** A zod issue's path as the API server writes field paths: spec.versions[0].name. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)), '');
}

export const conditionTrue = (crd: CustomResourceDefinition, type: string) => crd.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

/** The finalizer the API server puts on a definition being deleted: it goes once the definition's objects are gone. */
export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

/** The annotation a definition in a group the Kubernetes project owns must carry: the URL of its API review. */
export const API_APPROVAL_ANNOTATION = 'api-approved.kubernetes.io';

/** Groups the Kubernetes project owns (k8s.io, kubernetes.io and their subdomains). */
export const isProtectedGroup = (group: string) =>
  group === 'k8s.io' || group === 'kubernetes.io' || group.endsWith('.k8s.io') || group.endsWith('.kubernetes.io');
