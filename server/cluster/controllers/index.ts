import type { ControllerSpec } from './controller.ts';
import { customResourceDefinitions } from './crd.ts';
import { daemonSetController } from './daemonset.ts';
import { deploymentController } from './deployment.ts';
import { endpointsController } from './endpoints.ts';
import { endpointSliceController } from './endpointslice.ts';
import { garbageCollector } from './garbagecollector.ts';
import { namespaceController } from './namespace.ts';
import { nodeLifecycleController, taintEvictionController } from './nodelifecycle.ts';
import { replicaSetController } from './replicaset.ts';
import { scheduler } from './scheduler.ts';
import { rootCACertPublisher, serviceAccountController } from './serviceaccount.ts';
import { statefulSetController } from './statefulset.ts';

// A lab's control plane behind its API server: kube-controller-manager's controllers,
// kube-scheduler and apiextensions-apiserver's controllers, each a fresh ControllerSpec (with its own state) per call, for one lab.

export { kubernetesEndpoints } from './endpoints.ts';
export { bindPod } from './scheduler.ts';

export function controllerManager(opts: { caCert: string }): ControllerSpec[] {
  return [
    deploymentController(),
    replicaSetController(),
    daemonSetController(),
    statefulSetController(),
    scheduler(),
    endpointsController(),
    endpointSliceController(),
    garbageCollector(),
    namespaceController(),
    nodeLifecycleController(),
    taintEvictionController(),
    serviceAccountController(),
    rootCACertPublisher(opts.caCert),
    customResourceDefinitions(),
  ];
}
