import type { ControllerSpec } from '../controllers/controller.ts';
import { clusterRecords, renderRecordFiles, writeRecordFiles } from './records.ts';

// CoreDNS's kubernetes plugin, the part that watches the API: every change to Services,
// EndpointSlices or Pods rewrites the records the lab's CoreDNS pods serve (one directory per lab,
// read by every replica, as every replica of a real CoreDNS watches the same API).

export function dnsRecords(o: { dir: string; domain: string }): ControllerSpec {
  return {
    name: 'coredns-kubernetes',
    watches: ['Service', 'EndpointSlice', 'Pod'],
    keysFor: () => ['records'],
    initialKeys: () => ['records'],
    async reconcile(_key, ctx) {
      const records = clusterRecords({
        services: ctx.api.list('Service', undefined).items,
        endpointSlices: ctx.api.list('EndpointSlice', undefined).items,
        pods: ctx.api.list('Pod', undefined).items,
        domain: o.domain,
      });
      await writeRecordFiles(o.dir, renderRecordFiles(records));
    },
  };
}
