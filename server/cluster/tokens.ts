// Service account tokens, JWT-shaped as the TokenRequest API issues them: for the pods' projected
// token mounts, and for `kubectl create token` (serviceaccounts/<name>/token). They are signed with
// the lab's key (HS256, where kube-apiserver signs RS256: only the lab that issued a token verifies
// it), so a token outlives a restart of the cluster host, and names the service account (and the
// pod it is bound to) the authenticator then reports.

import { createHmac } from 'node:crypto';
import { ApiError, type KubeObject } from './object.ts';
import type { UserInfo } from './reviews.ts';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** What the kubelet asks for a pod's token: an hour and a margin (it refreshes before the hour). */
const POD_TOKEN_SECONDS = 3607;
/** TokenRequest's default, and the bounds the API server validates. */
const DEFAULT_SECONDS = 3600;
const MIN_SECONDS = 600;
const MAX_SECONDS = 2 ** 32;

interface Subject { namespace: string; serviceAccount: string; pod?: { name: string; uid?: string } }

function sign(key: Buffer, subject: Subject, audiences: string[], seconds: number, nowMs: number): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(nowMs / 1000);
  const header = b64({ alg: 'HS256', kid: createHmac('sha256', key).update('kid').digest('base64url').slice(0, 43) });
  const payload = b64({
    aud: audiences, exp: now + seconds, iat: now, iss: ISSUER,
    'kubernetes.io': { namespace: subject.namespace, ...(subject.pod ? { pod: subject.pod } : {}), serviceaccount: { name: subject.serviceAccount } },
    nbf: now, sub: `system:serviceaccount:${subject.namespace}:${subject.serviceAccount}`,
  });
  return `${header}.${payload}.${createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url')}`;
}

/** The user a service account token's claims name, as the token authenticator reports it. */
function serviceAccountUser(claims: { sub?: unknown; 'kubernetes.io'?: { namespace?: unknown; pod?: { name?: unknown; uid?: unknown }; serviceaccount?: { name?: unknown; uid?: unknown } } }): UserInfo | undefined {
  const k = claims['kubernetes.io'];
  const namespace = k?.namespace;
  if (typeof claims.sub !== 'string' || typeof namespace !== 'string') return undefined;
  const extra: Record<string, string[]> = {};
  if (typeof k?.pod?.name === 'string') extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
  if (typeof k?.pod?.uid === 'string') extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
  return {
    username: claims.sub,
    ...(typeof k?.serviceaccount?.uid === 'string' ? { uid: k.serviceaccount.uid } : {}),
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

/** The token a pod's projected volume carries: its service account's, bound to the pod. */
export function podToken(key: Buffer, pod: KubeObject, nowMs = Date.now()): string {
  const sa = String((pod.spec as { serviceAccountName?: string }).serviceAccountName ?? 'default');
  return sign(key, { namespace: pod.metadata.namespace!, serviceAccount: sa, pod: { name: pod.metadata.name!, uid: pod.metadata.uid } }, [ISSUER], POD_TOKEN_SECONDS, nowMs);
}

/** The user a token this lab signed stands for; undefined for any other token. */
export function tokenUser(key: Buffer, token: string): UserInfo | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  if (createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest('base64url') !== parts[2]) return undefined;
  try {
    return serviceAccountUser(JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')));
  } catch {
    return undefined;
  }
}

export interface TokenRequest extends KubeObject {
  spec: { audiences: string[]; expirationSeconds: number; boundObjectRef: TokenRequestSpec['boundObjectRef'] };
  status: { token: string; expirationTimestamp: string };
}

interface TokenRequestSpec { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: { kind?: unknown; name?: unknown; uid?: unknown } | null }

/** The answer to a TokenRequest for `sa` (201): a token, its expiry, the spec as defaulted; an
 *  invalid spec is Invalid (422) as the API server validates it. `getPod` finds a bound pod. */
export function answerTokenRequest(key: Buffer, sa: KubeObject, body: unknown, getPod: (namespace: string, name: string) => KubeObject, nowMs = Date.now()): TokenRequest {
  const spec = ((body && typeof body === 'object' ? (body as { spec?: unknown }).spec : undefined) ?? {}) as TokenRequestSpec;
  const name = sa.metadata.name!;
  const namespace = sa.metadata.namespace!;
  const invalid = (field: string, value: unknown, detail: string) =>
    new ApiError(422, 'Invalid', `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
  const seconds = spec.expirationSeconds ?? DEFAULT_SECONDS;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds)) throw invalid('expirationSeconds', seconds, 'must be a whole number of seconds');
  if (seconds < MIN_SECONDS) throw invalid('expirationSeconds', seconds, 'may not specify a duration less than 10 minutes');
  if (seconds > MAX_SECONDS) throw invalid('expirationSeconds', seconds, 'may not specify a duration larger than 2^32 seconds');
  const audiences = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences.map(String) : [ISSUER];
  let pod: Subject['pod'];
  const ref = spec.boundObjectRef;
  if (ref) {
    if (ref.kind !== 'Pod') throw invalid('boundObjectRef.kind', ref.kind, 'this lab binds tokens to pods only');
    const bound = getPod(namespace, String(ref.name));
    if (ref.uid !== undefined && ref.uid !== bound.metadata.uid) throw new ApiError(409, 'Conflict', `the UID in the bound object reference (${String(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`);
    pod = { name: bound.metadata.name!, uid: bound.metadata.uid };
  }
  const token = sign(key, { namespace, serviceAccount: name, pod }, audiences, seconds, nowMs);
  return {
    kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace },
    spec: { audiences, expirationSeconds: seconds, boundObjectRef: ref ?? null },
    status: { token, expirationTimestamp: new Date(Math.floor(nowMs / 1000) * 1000 + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') },
  };
}
