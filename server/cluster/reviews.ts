// Who the caller is, and what it may do: the self-review APIs `kubectl auth whoami` and `kubectl
// auth can-i` ask (authentication.k8s.io SelfSubjectReview, authorization.k8s.io
// SelfSubjectAccessReview and SelfSubjectRulesReview). They are answered, never stored.
//
// A lab authenticates two credentials: its kubeconfig's token, which stands for kind's admin
// (kubeadm's `kubernetes-admin`, in the group bound to cluster-admin since 1.29), and the service
// account tokens its pods mount. It authorizes every request either makes, so every review allows:
// on kind a pod's default service account would be refused most things by RBAC, which a lab does
// not enforce.

import { ApiError, type KubeObject } from './object.ts';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const ADMIN: UserInfo = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };

/** What cluster-admin's binding and the default roles every authenticated user has
 *  (system:basic-user, system:discovery, system:public-info-viewer) allow, as a rules review
 *  lists them. */
const RULES = {
  resourceRules: [
    { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
    { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
    { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
  ],
  nonResourceRules: [
    { verbs: ['*'], nonResourceURLs: ['*'] },
    { verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] },
    { verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] },
  ],
  incomplete: false,
};

const REVIEWS: Record<string, { kind: string; apiVersion: string; answer(body: Record<string, unknown>, user: UserInfo): Record<string, unknown> }> = {
  // kubectl 1.27 asks v1beta1, later ones v1.
  ...Object.fromEntries(['v1', 'v1beta1'].map((v) => [`/apis/authentication.k8s.io/${v}/selfsubjectreviews`, {
    kind: 'SelfSubjectReview', apiVersion: `authentication.k8s.io/${v}`, answer: (_: unknown, user: UserInfo) => ({ status: { userInfo: user } }),
  }])),
  '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews': {
    kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1',
    answer: (body) => {
      const spec = (body.spec ?? {}) as Record<string, unknown>;
      if ((spec.resourceAttributes === undefined) === (spec.nonResourceAttributes === undefined)) {
        throw new ApiError(422, 'Invalid', 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified');
      }
      return { spec, status: { allowed: true } };
    },
  },
  '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews': {
    kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1',
    answer: (body) => ({ spec: body.spec ?? {}, status: RULES }),
  },
};

/** The answer to a review created at `path` (201), or undefined when `path` is not a review's. */
export function answerReview(path: string, body: unknown, user: UserInfo): KubeObject | undefined {
  const review = REVIEWS[path];
  if (!review) return undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'BadRequest', 'the request body must be an object');
  const o = body as Record<string, unknown>;
  if (o.kind !== undefined && o.kind !== review.kind) throw new ApiError(400, 'BadRequest', `the body is a ${String(o.kind)}, not a ${review.kind}`);
  return { kind: review.kind, apiVersion: review.apiVersion, metadata: {}, ...review.answer(o, user) } as KubeObject;
}

/** The reviews' kinds, for the protobuf decoder (kubectl 1.32+ sends them as protobuf). */
export const REVIEW_KINDS = Object.values(REVIEWS).map(({ kind, apiVersion }) => {
  const [group, version] = apiVersion.split('/');
  return { group, version, kind };
});

/** Whether `path` is a review's (they are created only). */
export const isReviewPath = (path: string) => Object.prototype.hasOwnProperty.call(REVIEWS, path);
