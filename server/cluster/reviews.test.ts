import { describe, expect, it } from 'vitest';
import { ApiError } from './object.ts';
import { ADMIN, answerReview } from './reviews.ts';

const ACCESS = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

describe('answerReview', () => {
  it('allows what is asked, keeping the spec, for resources and for URLs', () => {
    const spec = { resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'default' } };
    expect(answerReview(ACCESS, { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec }, ADMIN))
      .toEqual({ kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status: { allowed: true } });
    expect(answerReview(ACCESS, { spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } } }, ADMIN)).toMatchObject({ status: { allowed: true } });
  });

  it('rejects an access review that asks about neither or both, as the API server validates it', () => {
    for (const spec of [{}, { resourceAttributes: {}, nonResourceAttributes: {} }]) {
      const e = (() => { try { answerReview(ACCESS, { spec }, ADMIN); } catch (err) { return err; } })() as ApiError;
      expect([e.code, e.reason, e.message]).toEqual([422, 'Invalid', expect.stringContaining('exactly one of nonResourceAttributes or resourceAttributes must be specified')]);
    }
  });

  it('rejects a body that is not an object or names another kind, and passes other paths by', () => {
    expect(() => answerReview(ACCESS, 'yes', ADMIN)).toThrow('the request body must be an object');
    expect(() => answerReview(ACCESS, { kind: 'Pod' }, ADMIN)).toThrow('the body is a Pod, not a SelfSubjectAccessReview');
    expect(answerReview('/api/v1/pods', {}, ADMIN)).toBeUndefined();
  });

  it('says who the caller is', () => {
    expect(answerReview('/apis/authentication.k8s.io/v1/selfsubjectreviews', { kind: 'SelfSubjectReview' }, ADMIN)).toMatchObject({ status: { userInfo: ADMIN } });
  });
});
