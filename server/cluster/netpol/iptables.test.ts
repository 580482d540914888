import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { labsUnavailable } from '../../../test/support/env.ts';
import { ensureForwardJumpScript, MAIN_CHAIN, podChain, renderPolicies, type IsolatedPod } from './iptables.ts';

const web: IsolatedPod = {
  pod: 'prod/web-1', ip: '10.244.1.5', direction: 'ingress', policies: ['prod/allow-frontend', 'prod/default-deny'],
  allow: [
    { policy: 'prod/allow-frontend', rule: 'ingress[0]', peer: { kind: 'pod', ip: '10.244.0.7', pod: 'prod/frontend-1' }, port: { protocol: 'TCP', port: 8080 } },
    { policy: 'prod/allow-frontend', rule: 'ingress[1]', peer: { kind: 'cidr', cidr: '172.18.0.0/16', except: ['172.18.0.3/32'] }, port: { protocol: 'UDP', port: 5000, endPort: 5005 } },
  ],
};
const client: IsolatedPod = {
  pod: 'prod/client', ip: '10.244.1.6', direction: 'egress', policies: ['prod/default-deny'],
  allow: [{ policy: 'prod/allow-dns', rule: 'egress[0]', peer: { kind: 'any' }, port: { protocol: 'UDP', port: 53 } }],
};

describe('NetworkPolicy chains', () => {
  it('give each isolated pod a chain that allows what its rules allow, then drops', () => {
    const { rules, chains } = renderPolicies([web, client], '10.244.1.0/24');
    const inWeb = podChain('prod/web-1', 'ingress');
    expect(chains.has(inWeb) && chains.has(podChain('prod/client', 'egress'))).toBe(true);
    expect(rules).toContain(`-A KUBE-NP-INGRESS -d 10.244.1.5/32 -m comment --comment "prod/web-1 is isolated for ingress by prod/allow-frontend, prod/default-deny" -j ${inWeb}`);
    // Only traffic to or from the node's pods reaches the pods' rules.
    expect(rules).toContain(`-A ${MAIN_CHAIN} -s 10.244.1.0/24 -m comment --comment "from this node's pods" -j KUBE-NP-EGRESS`);
    expect(rules).toContain(`-A ${MAIN_CHAIN} -d 10.244.1.0/24 -m comment --comment "to this node's pods" -j KUBE-NP-INGRESS`);
    expect(rules).toContain(`-A ${inWeb} -s 10.244.0.7/32 -p tcp -m tcp --dport 8080 -m comment --comment "prod/allow-frontend ingress[0]: from prod/frontend-1, TCP/8080" -j MARK --set-xmark 0x20000/0x20000`);
    expect(rules).toMatch(/-A KUBE-NP-IN-\w+ -s 172\.18\.0\.0\/16 -p udp -m udp --dport 5000:5005 .* -j KUBE-NP-IPB-\w+/);
    expect(rules).toContain(`-A ${inWeb} -m comment --comment "no policy allows this ingress to prod/web-1" -j DROP`);
    // The connection mark check comes before any pod chain; every isolated pod's connections,
    // whichever end opened them, are marked once they pass (an ingress-only pod's replies too).
    expect(rules.indexOf('--ctstate RELATED,ESTABLISHED')).toBeLessThan(rules.indexOf(`-j ${inWeb}`));
    expect(rules.trimEnd().split('\n').filter((l) => l.startsWith(`-A ${MAIN_CHAIN}`)).at(-1)).toBe(`-A ${MAIN_CHAIN} -m comment --comment "allowed: the connection stays accepted" -j CONNMARK --set-xmark 0x20000/0x20000`);
  });

  it('cut comments to the 255 characters iptables takes', () => {
    const many = { ...web, policies: Array.from({ length: 40 }, (_, i) => `prod/policy-number-${i}`) };
    const comment = renderPolicies([many], '10.244.1.0/24').rules.split('\n').find((l) => l.includes('is isolated for ingress'))!.match(/--comment "([^"]*)"/)![1];
    expect(comment).toHaveLength(255);
    expect(comment).toMatch(/^prod\/web-1 is isolated for ingress by prod\/policy-number-0, .*\.\.\.$/);
  });

  it('delete the chains of pods no longer isolated', () => {
    const first = renderPolicies([web, client], '10.244.1.0/24');
    const second = renderPolicies([client], '10.244.1.0/24', first.chains);
    expect(second.chains.has(podChain('prod/web-1', 'ingress'))).toBe(false);
    expect(second.rules).toContain(`-X ${podChain('prod/web-1', 'ingress')}`);
    expect(second.rules).not.toContain(`-X ${podChain('prod/client', 'egress')}`);
  });

  const why = labsUnavailable();
  it.skipIf(why)(`load into a real network namespace and read back in iptables-save${why ? ` (skipped: ${why})` : ''}`, () => {
    const first = renderPolicies([web, client], '10.244.1.0/24');
    const second = renderPolicies([client], '10.244.1.0/24', first.chains);
    const script = [
      'set -e',
      `iptables-restore -w --noflush <<'EOF'\n${first.rules}EOF`,
      ensureForwardJumpScript(),
      'iptables -w -I FORWARD 1 -j ACCEPT -m comment --comment "inserted later by someone else"',
      ensureForwardJumpScript(),
      ensureForwardJumpScript(),
      `iptables-restore -w --noflush <<'EOF'\n${second.rules}EOF`,
      'iptables-save -t filter',
    ].join('\n');
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--net', 'sh', '-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const forward = r.stdout.split('\n').filter((l) => l.startsWith('-A FORWARD'));
    // The policies' jump is first and there only once, however often it is ensured.
    expect(forward[0]).toBe(`-A FORWARD -m comment --comment "kindnet: network policies" -j ${MAIN_CHAIN}`);
    expect(forward.filter((l) => l.includes(MAIN_CHAIN))).toHaveLength(1);
    expect(r.stdout).not.toContain(podChain('prod/web-1', 'ingress'));
    expect(r.stdout).toContain(`-A ${podChain('prod/client', 'egress')} -p udp -m udp --dport 53 -m comment --comment "prod/allow-dns egress[0]: to anywhere, UDP/53" -j MARK --set-xmark 0x20000/0x20000`);
  });
});
