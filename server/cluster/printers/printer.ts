// What a kind's printer is: the columns kube-apiserver declares for it (pkg/printers/internalversion,
// AddHandlers) and the function that turns one object into that many cells. The server always
// prints "wide" (printers/storage.TableConvertor passes Wide: true): every column's cell is sent,
// and kubectl hides the priority 1 columns unless asked for `-o wide`.

import type { KubeObject } from '../object.ts';
import type { TableColumnDefinition, TableRowCondition } from '../tables.ts';

export interface Printer {
  readonly columns: readonly TableColumnDefinition[];
  cells(object: KubeObject, now: Date): unknown[];
  /** Row conditions kube-apiserver attaches (only pods have them: Completed for a finished pod). */
  conditions?(object: KubeObject): TableRowCondition[] | undefined;
}

/**
 * A printer over a typed, read-only view of the stored JSON (a `@kubernetes/client-node` model).
 * The view is only a reading aid: stored objects are plain JSON, any field may be absent and
 * timestamps are strings, so cell functions read defensively.
 */
export function printer<View>(
  columns: readonly TableColumnDefinition[],
  cells: (object: View, now: Date) => unknown[],
  conditions?: (object: View) => TableRowCondition[] | undefined,
): Printer {
  const view = (object: KubeObject) => object as unknown as View;
  return {
    columns,
    cells: (object, now) => cells(view(object), now),
    ...(conditions ? { conditions: (object: KubeObject) => conditions(view(object)) } : {}),
  };
}

type ColumnType = 'string' | 'integer';

/** A column definition; `wide` columns carry priority 1, the ones kubectl shows only with -o wide. */
export function column(name: string, type: ColumnType, description: string, options: { wide?: boolean; format?: 'name' } = {}): TableColumnDefinition {
  return { name, type, format: options.format ?? '', description, priority: options.wide ? 1 : 0 };
}

// metav1.ObjectMeta{}.SwaggerDoc() texts, shared by almost every kind's columns.
const NAME_DOC = 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const CREATION_TIMESTAMP_DOC = 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

export const nameColumn = (options: { wide?: boolean } = {}) => column('Name', 'string', NAME_DOC, { ...options, format: 'name' });
export const ageColumn = () => column('Age', 'string', CREATION_TIMESTAMP_DOC);
