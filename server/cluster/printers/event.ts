// core/v1 Events as `kubectl get events` shows them: LAST SEEN, TYPE, REASON, OBJECT ("pod/web-1"),
// MESSAGE; -o wide adds SUBOBJECT, SOURCE, FIRST SEEN, COUNT and NAME. Events written through the
// events.k8s.io API have no first/last timestamps: their eventTime and series stand in.

import type { CoreV1Event } from '@kubernetes/client-node';
import { instant, since } from './format.ts';
import { column, nameColumn, printer } from './printer.ts';

const columns = [
  column('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
  column('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
  column('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
  column('Object', 'string', 'The object that this event is about.'),
  column('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the container that triggered the event) or if no container name is specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.', { wide: true }),
  column('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', { wide: true }),
  column('Message', 'string', 'A human-readable description of the status of this operation.'),
  column('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', { wide: true }),
  column('Count', 'string', 'The number of times this event has occurred.', { wide: true }),
  nameColumn({ wide: true }),
];

/** "component, host", falling back to the reporting controller and instance of newer events. */
function source(event: CoreV1Event): string {
  const component = event.source?.component || event.reportingComponent || '';
  const instance = event.source?.host || event.reportingInstance || '';
  return instance ? `${component}, ${instance}` : component;
}

function cells(event: CoreV1Event, now: Date): unknown[] {
  const firstSeen = since(now, instant(event.firstTimestamp) ?? instant(event.eventTime));
  const last = instant(event.lastTimestamp);
  let lastSeen = last === undefined ? firstSeen : since(now, last);
  let count = event.count ?? 0;
  if (event.series) {
    lastSeen = since(now, event.series.lastObservedTime);
    count = event.series.count ?? 0;
  } else if (count === 0) {
    count = 1; // a singleton event from the new API has no count
  }
  const kind = (event.involvedObject?.kind ?? '').toLowerCase();
  const name = event.involvedObject?.name;
  return [
    lastSeen,
    event.type ?? '',
    event.reason ?? '',
    name ? `${kind}/${name}` : kind,
    event.involvedObject?.fieldPath ?? '',
    source(event),
    (event.message ?? '').trim(),
    firstSeen,
    count,
    event.metadata?.name ?? '',
  ];
}

export const eventPrinter = printer<CoreV1Event>(columns, cells);
