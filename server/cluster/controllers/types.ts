import type { KubeObject, ObjectMeta } from '../object.ts';

// The parts of the built-in kinds the controllers read and write, as they are stored (JSON, with
// timestamps as RFC 3339 strings). Fields the API server defaults are optional here: a controller
// falls back to the upstream default itself, so it never depends on admission having run.

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastProbeTime?: string | null;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface NodeSelectorRequirement { key: string; operator: string; values?: string[] }
export interface NodeSelectorTerm { matchExpressions?: NodeSelectorRequirement[]; matchFields?: NodeSelectorRequirement[] }

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: unknown[];
  };
  [other: string]: unknown;
}

export interface ContainerPort { name?: string; containerPort: number; protocol?: string }
export interface Container { name: string; ports?: ContainerPort[]; [other: string]: unknown }

export interface PodSpec {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  schedulerName?: string;
  hostname?: string;
  subdomain?: string;
  hostNetwork?: boolean;
  preemptionPolicy?: string;
  restartPolicy?: string;
  containers: Container[];
  [other: string]: unknown;
}

export interface PodStatus {
  phase?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  conditions?: Condition[];
  containerStatuses?: { restartCount?: number }[];
  [other: string]: unknown;
}

export interface Pod extends KubeObject { spec: PodSpec; status?: PodStatus }

export interface PodTemplate { metadata?: ObjectMeta; spec: PodSpec }

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: Taint[]; podCIDR?: string };
  status?: { addresses?: { type: string; address: string }[]; conditions?: Condition[] };
}

/** An int-or-string field: a count, or a percentage such as "25%". */
export type IntOrString = number | string;
