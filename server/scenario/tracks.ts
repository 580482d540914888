// The catalog's tracks and the CKA competencies a scenario trains: named here once, referred to by id
// from every scenario.yaml (the schema accepts only these ids) and shown by the catalog in this order.

/** Tracks in the order a newcomer takes them: the kernel first, then up the stack, exams last. */
export const TRACKS = [
  { id: 'linux', title: 'Linux primitives', about: 'The kernel under every cluster: forwarding, routes, MTU, bridges, conntrack and iptables on a node.' },
  { id: 'pod-networking', title: 'Pod networking', about: 'How a pod gets its address and reaches another pod, on its node and across nodes, as the CNI sets it up.' },
  { id: 'services', title: 'Services', about: 'ClusterIP, NodePort and LoadBalancer Services, their endpoints, and kube-proxy, which turns them into rules.' },
  { id: 'dns', title: 'DNS', about: 'CoreDNS, the names it serves, where it forwards the rest, and how a pod\'s resolv.conf asks it.' },
  { id: 'network-policy', title: 'NetworkPolicy', about: 'Who may talk to whom: policies, their selectors and ports, and what a default deny takes away.' },
  { id: 'ingress-egress', title: 'Ingress and egress', about: 'Traffic from outside the cluster in, through Ingress and the Gateway API, and from pods out.' },
  { id: 'exam', title: 'Exam practice', about: 'Several faults at once, in the style of a certification task: find them all.' },
] as const;

export type TrackId = (typeof TRACKS)[number]['id'];
export const TRACK_IDS = TRACKS.map((t) => t.id) as [TrackId, ...TrackId[]];

/** The CKA curriculum's competencies a networking lab trains (Services & Networking, Troubleshooting). */
export const COMPETENCIES = {
  'pod-connectivity': 'Understand connectivity between Pods',
  'network-policies': 'Define and enforce Network Policies',
  'service-types': 'Use ClusterIP, NodePort, LoadBalancer service types and endpoints',
  'gateway-api': 'Use the Gateway API to manage Ingress traffic',
  'ingress': 'Know how to use Ingress controllers and Ingress resources',
  'coredns': 'Understand and use CoreDNS',
  'troubleshoot-nodes': 'Troubleshoot clusters and nodes',
  'troubleshoot-components': 'Troubleshoot cluster components',
  'container-output': 'Manage and evaluate container output streams',
  'troubleshoot-networking': 'Troubleshoot services and networking',
} as const;

export type CompetencyId = keyof typeof COMPETENCIES;
export const COMPETENCY_IDS = Object.keys(COMPETENCIES) as [CompetencyId, ...CompetencyId[]];

const DIFFICULTY_RANK = { beginner: 0, intermediate: 1, advanced: 2 } as const;

/** The order scenarios take within a track: easier first, then shorter, then by title. */
export function byTrackOrder<T extends { track: TrackId; difficulty: keyof typeof DIFFICULTY_RANK; minutes: number; title: string }>(a: T, b: T): number {
  return TRACK_IDS.indexOf(a.track) - TRACK_IDS.indexOf(b.track)
    || DIFFICULTY_RANK[a.difficulty] - DIFFICULTY_RANK[b.difficulty]
    || a.minutes - b.minutes
    || a.title.localeCompare(b.title);
}
