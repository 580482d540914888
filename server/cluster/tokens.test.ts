import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiError, type KubeObject } from './object.ts';
import { answerTokenRequest, podToken, tokenUser } from './tokens.ts';

const key = Buffer.from('lab key');
const sa: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: 'ci' } };
const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'runner', namespace: 'ci', uid: 'p-1' }, spec: { serviceAccountName: 'builder' } };
const getPod = (_ns: string, name: string) => {
  if (name !== 'runner') throw new ApiError(404, 'NotFound', `pods "${name}" not found`);
  return pod;
};
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

describe('answerTokenRequest', () => {
  it('issues an hour\'s token for the service account by default, the spec defaulted', () => {
    const r = answerTokenRequest(key, sa, { spec: {} }, getPod, NOW);
    expect(r.spec).toEqual({ audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600, boundObjectRef: null });
    expect(r.status.expirationTimestamp).toBe('2026-12-02T13:00:00Z');
    expect(claims(r.status.token)).toMatchObject({ sub: 'system:serviceaccount:ci:builder', exp: NOW / 1000 + 3600, 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'builder' } } });
    expect(tokenUser(key, r.status.token)).toEqual({ username: 'system:serviceaccount:ci:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'] });
  });

  it('binds a token to a pod that exists, with its uid', () => {
    const r = answerTokenRequest(key, sa, { spec: { expirationSeconds: 600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'runner' } } }, getPod, NOW);
    expect(tokenUser(key, r.status.token)?.extra).toEqual({ 'authentication.kubernetes.io/pod-name': ['runner'], 'authentication.kubernetes.io/pod-uid': ['p-1'] });
    expect(() => answerTokenRequest(key, sa, { spec: { boundObjectRef: { kind: 'Pod', name: 'gone' } } }, getPod, NOW)).toThrow('pods "gone" not found');
    expect(() => answerTokenRequest(key, sa, { spec: { boundObjectRef: { kind: 'Pod', name: 'runner', uid: 'p-0' } } }, getPod, NOW)).toThrow('does not match the UID in record');
  });

  it('refuses durations the API server refuses, naming the field', () => {
    expect(() => answerTokenRequest(key, sa, { spec: { expirationSeconds: 599 } }, getPod, NOW))
      .toThrow('TokenRequest.authentication.k8s.io "builder" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes');
    expect(() => answerTokenRequest(key, sa, { spec: { expirationSeconds: 2 ** 32 + 1 } }, getPod, NOW)).toThrow('larger than 2^32 seconds');
    expect(() => answerTokenRequest(key, sa, { spec: { expirationSeconds: '1h' } }, getPod, NOW)).toThrow('must be a whole number of seconds');
  });
});

describe('tokenUser', () => {
  it('knows a pod\'s token and no token it did not sign', () => {
    const token = podToken(key, pod, NOW);
    expect(tokenUser(key, token)?.username).toBe('system:serviceaccount:ci:builder');
    expect(tokenUser(Buffer.from('another lab'), token)).toBeUndefined();
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims(token), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url');
    expect(tokenUser(key, `${h}.${forged}.${s}`)).toBeUndefined();
    expect(tokenUser(key, 'not-a-jwt')).toBeUndefined();
    // Signed by the lab but naming no service account's namespace: no user.
    const claimsWithout = Buffer.from(JSON.stringify({ sub: 'x' })).toString('base64url');
    expect(tokenUser(key, `${h}.${claimsWithout}.${createHmac('sha256', key).update(`${h}.${claimsWithout}`).digest('base64url')}`)).toBeUndefined();
  });
});
