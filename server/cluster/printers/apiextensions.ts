// CustomResourceDefinitions and the objects of their kinds.
// - A CRD prints through the API server's default table convertor: its name and when it was
//   created, as an RFC 3339 timestamp (not an age).
// - A custom resource prints its version's additionalPrinterColumns after NAME, or AGE alone when
//   the version declares none (apiextensions-apiserver's tableconvertor). Each column's jsonPath
//   takes its first result; "string" columns print it as client-go's jsonpath does (a list or a
//   map as JSON, anything else as text), "date" columns as an age, and the other types as typed
//   cells. A path that finds nothing leaves the cell empty.

import type { PrinterColumn } from '../crd/definition.ts';
import { evaluate, parseJsonPath } from '../jsonpath.ts';
import type { KubeObject } from '../object.ts';
import type { TableColumnDefinition } from '../tables.ts';
import { since } from './format.ts';
import { CREATION_TIMESTAMP_DOC, nameColumn, type Printer } from './printer.ts';


export const customResourceDefinitionPrinter: Printer = {
  columns: [nameColumn(), { name: 'Created At', type: 'date', format: '', description: CREATION_TIMESTAMP_DOC, priority: 0 }],
  cells: (crd) => [crd.metadata.name ?? '', crd.metadata.creationTimestamp ?? null],
};

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: CREATION_TIMESTAMP_DOC };

/** Go's json.Marshal: object keys sorted. */
function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${goJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function cell(column: PrinterColumn, value: unknown, now: Date): unknown {
  switch (column.type) {
    case 'string': return typeof value === 'string' ? value : value !== null && typeof value === 'object' ? goJson(value) : String(value);
    case 'integer': return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number': return typeof value === 'number' ? value : null;
    case 'boolean': return typeof value === 'boolean' ? value : null;
    case 'date': return typeof value === 'string' ? since(now, value) : null;
  }
}

export function customResourcePrinter(declared: readonly PrinterColumn[]): Printer {
  const columns = declared.length ? declared : [AGE];
  const paths = columns.map((c) => parseJsonPath(c.jsonPath));
  return {
    columns: [
      nameColumn(),
      ...columns.map((c): TableColumnDefinition => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    ],
    cells: (object: KubeObject, now: Date) => [
      object.metadata.name ?? '',
      ...columns.map((c, i) => {
        const path = paths[i];
        const [first] = Array.isArray(path) ? evaluate(path, object) : [];
        return first === undefined || first === null ? null : cell(c, first, now);
      }),
    ],
  };
}
