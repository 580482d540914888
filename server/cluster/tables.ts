// Server-side printing: the meta.k8s.io/v1 Table the API answers with when a client asks for
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, as kubectl does for its human-readable
// output. Without it kubectl can only print NAME and AGE. Each kind's columns and cell rules are
// kube-apiserver's own (pkg/printers/internalversion); the modules under ./printers hold them.

import { isBuiltin, type KindName } from './kinds.ts';
import type { KubeObject } from './object.ts';
import { customResourceDefinitionPrinter, customResourcePrinter } from './printers/apiextensions.ts';
import { daemonSetPrinter, deploymentPrinter, replicaSetPrinter, statefulSetPrinter } from './printers/apps.ts';
import { configMapPrinter, namespacePrinter, secretPrinter, serviceAccountPrinter } from './printers/config.ts';
import { eventPrinter } from './printers/event.ts';
import { endpointSlicePrinter, ingressClassPrinter, ingressPrinter, networkPolicyPrinter } from './printers/networking.ts';
import { nodePrinter } from './printers/node.ts';
import { podPrinter } from './printers/pod.ts';
import type { Printer } from './printers/printer.ts';
import { endpointsPrinter, servicePrinter } from './printers/service.ts';
import type { ServedKind } from './registry.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  /** 0 for the default columns, 1 for those kubectl shows only with `-o wide`. */
  priority: number;
}

/** metav1.TableRowCondition; kube-apiserver only ever sets Completed, on finished pods. */
export interface TableRowCondition {
  type: 'Completed';
  status: 'True';
  reason: string;
  message: string;
}

export interface PartialObjectMetadata {
  kind: 'PartialObjectMetadata';
  apiVersion: 'meta.k8s.io/v1';
  metadata: KubeObject['metadata'];
}

export interface TableRow {
  cells: unknown[];
  conditions?: TableRowCondition[];
  /** The row's object: its metadata by default (what `-A`, `--show-labels` and `-L` read), or the whole object for `includeObject=Object`. */
  object: PartialObjectMetadata | KubeObject;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export interface TableOptions {
  /** The instant AGE, RESTARTS and LAST SEEN are measured from. */
  now: Date;
  /** The list's resourceVersion, or the object's for a single GET (what kube-apiserver puts there). */
  resourceVersion?: string;
  /** The list's continue token, when the list was paginated. */
  continue?: string;
  /**
   * Leave the column definitions out (TableOptions.noHeaders). A watch sends them with its first
   * event only; kubectl reuses the last columns it saw for a table that has none.
   */
  noHeaders?: boolean;
  /**
   * The `includeObject` query parameter: "Metadata" (the default) puts a PartialObjectMetadata in
   * each row, "Object" the object itself (kubectl asks for it with `--sort-by`).
   */
  includeObject?: 'Metadata' | 'Object';
}

/** Printers keyed by every KindName: a kind added to KINDS without a printer must not compile. */
const PRINTERS: { readonly [K in KindName]: Printer } = {
  Namespace: namespacePrinter,
  Node: nodePrinter,
  Pod: podPrinter,
  Service: servicePrinter,
  Endpoints: endpointsPrinter,
  ConfigMap: configMapPrinter,
  Secret: secretPrinter,
  ServiceAccount: serviceAccountPrinter,
  Event: eventPrinter,
  Deployment: deploymentPrinter,
  ReplicaSet: replicaSetPrinter,
  DaemonSet: daemonSetPrinter,
  StatefulSet: statefulSetPrinter,
  EndpointSlice: endpointSlicePrinter,
  NetworkPolicy: networkPolicyPrinter,
  Ingress: ingressPrinter,
  IngressClass: ingressClassPrinter,
  CustomResourceDefinition: customResourceDefinitionPrinter,
};

/** A built-in kind's printer, or the one a custom kind's served version declares. */
const printerOf = (kind: KindName | ServedKind): Printer =>
  typeof kind === 'string' ? PRINTERS[kind] : isBuiltin(kind.kind) ? PRINTERS[kind.kind] : customResourcePrinter(kind.custom?.columns ?? []);

function rowObject(object: KubeObject, include: TableOptions['includeObject']): TableRow['object'] {
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

/** The Table for objects of one kind, one row per object in the given order. */
export function toTable(kind: KindName | ServedKind, objects: KubeObject[], opts: TableOptions): Table {
  const printer = printerOf(kind);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {
      ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continue ? { continue: opts.continue } : {}),
    },
    columnDefinitions: opts.noHeaders ? [] : printer.columns.map((c) => ({ ...c })),
    rows: objects.map((object) => {
      const conditions = printer.conditions?.(object);
      return {
        cells: printer.cells(object, opts.now),
        ...(conditions ? { conditions } : {}),
        object: rowObject(object, opts.includeObject),
      };
    }),
  };
}
