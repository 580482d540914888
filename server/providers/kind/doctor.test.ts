import { describe, expect, it } from 'vitest';
import { describeKindHost, diagnoseKind, gatherKindHostFacts, parseKindVersion, type KindHostFacts } from './doctor.ts';

const ready: KindHostFacts = {
  docker: { ok: true, serverVersion: '28.2.2', cgroupVersion: '2' },
  kindVersion: 'kind v0.32.0 go1.25.1 linux/amd64',
  kubectlVersion: 'Client Version: v1.34.1',
  cgroupVersion: '2',
  inotify: { maxUserInstances: 8192, maxUserWatches: 1048576 },
  probeImage: true,
  missingImageTools: [],
};

describe('diagnoseKind', () => {
  it('says nothing when the host is ready', () => {
    expect(diagnoseKind(ready)).toEqual([]);
  });

  it('names each missing piece with its fix', () => {
    const lines = diagnoseKind({
      ...ready,
      docker: { ok: false, reason: 'docker daemon not reachable', detail: 'Cannot connect to the Docker daemon' },
      kindVersion: undefined,
      kubectlVersion: undefined,
      cgroupVersion: '1',
      inotify: { maxUserInstances: 128, maxUserWatches: 8192 },
    });
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/docker daemon not reachable \(Cannot connect.*\) — start it/);
    expect(lines[1]).toMatch(/kind not installed — install/);
    expect(lines[2]).toMatch(/kubectl not installed/);
    expect(lines[3]).toMatch(/cgroup v1 — .*NETDOJO_KIND_NODE_IMAGE/);
    expect(lines[4]).toMatch(/max_user_instances is 128 .* sysctl -w fs.inotify.max_user_instances=512/);
    expect(lines[5]).toMatch(/max_user_watches is 8192 .* sysctl -w fs.inotify.max_user_watches=524288/);
  });

  it('flags a kind too old to enforce NetworkPolicy, a missing image and missing build tools', () => {
    expect(diagnoseKind({ ...ready, kindVersion: 'kind v0.20.0 go1.20 linux/amd64' })).toEqual([expect.stringMatching(/kind 0\.20\.0 does not enforce NetworkPolicy/)]);
    expect(diagnoseKind({ ...ready, probeImage: false })).toEqual([expect.stringMatching(/run `netdojo images`/)]);
    expect(diagnoseKind({ ...ready, probeImage: false, missingImageTools: [{ name: 'dig', pkg: 'bind9-dnsutils' }] })).toEqual([expect.stringMatching(/lacks dig — apt-get install bind9-dnsutils/)]);
    expect(diagnoseKind({ ...ready, docker: { ok: false, reason: 'docker not installed' }, probeImage: false })).toEqual([expect.stringMatching(/docker not installed — install Docker Engine/)]);
  });

  it('parses kind versions', () => {
    expect(parseKindVersion('kind v0.24.0 go1.22.6 linux/amd64')).toEqual([0, 24, 0]);
    expect(parseKindVersion('nonsense')).toBeUndefined();
  });
});

describe('gatherKindHostFacts on this host', () => {
  it('reads what is really there and reports it consistently', async () => {
    const f = await gatherKindHostFacts({ kind: 'netdojo-no-such-kind-binary' });
    expect(f.kindVersion).toBeUndefined();
    expect(['1', '2']).toContain(f.cgroupVersion);
    expect(f.inotify.maxUserInstances).toBeGreaterThan(0);
    const lines = diagnoseKind(f);
    expect(lines.some((l) => l.includes('kind not installed'))).toBe(true);
    expect(lines.some((l) => l.includes('cgroup v1'))).toBe(f.cgroupVersion === '1');
    expect(lines.some((l) => /docker (daemon not reachable|not installed)/.test(l))).toBe(!f.docker.ok);
    expect(describeKindHost(f)[1]).toBe('kind: not installed');
  });
});
