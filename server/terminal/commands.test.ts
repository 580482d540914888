import { describe, expect, it } from 'vitest';
import { commandOnLine } from './commands.ts';
import { LIMITS } from './protocol.ts';

// Screen lines as the lab shells show them (their prompts: the netns lab's bashrc, kind's node and pod
// shells, busybox sh, nslookup's interactive mode), and lines that are no command.
describe('commandOnLine', () => {
  it('takes the text after the prompt', () => {
    expect(commandOnLine('[k3x9q2] control-plane:~# kubectl get pods -A -o wide')).toBe('kubectl get pods -A -o wide');
    expect(commandOnLine('[k3x9q2] default/client-worker:/# dig +short web.default.svc.cluster.local')).toBe('dig +short web.default.svc.cluster.local');
    expect(commandOnLine('[netdojo k3x9q2 kind-admin] ~$ kubectl -n kube-system get cm coredns -o yaml')).toBe('kubectl -n kube-system get cm coredns -o yaml');
    expect(commandOnLine('root@netdojo-k3x9q2-worker:/# iptables-save -t nat | grep KUBE-SVC')).toBe('iptables-save -t nat | grep KUBE-SVC');
    expect(commandOnLine('/ # wget -qO- http://web')).toBe('wget -qO- http://web');
    expect(commandOnLine('> server 10.96.0.10')).toBe('server 10.96.0.10');
  });

  it('keeps prompt characters inside the command', () => {
    expect(commandOnLine("[k3x9q2] worker:~# echo '# $ > ' > /tmp/x")).toBe("echo '# $ > ' > /tmp/x");
  });

  it('finds no command on a bare prompt, a password prompt or a program\'s output', () => {
    expect(commandOnLine('[k3x9q2] control-plane:~# ')).toBeNull();
    expect(commandOnLine('[k3x9q2] control-plane:~#')).toBeNull();
    expect(commandOnLine('Password: ')).toBeNull();
    expect(commandOnLine('PING 10.244.1.3 (10.244.1.3) 56(84) bytes of data.')).toBeNull();
  });

  it('keeps a command up to the limit', () => {
    const c = commandOnLine(`$ echo ${'y'.repeat(3 * LIMITS.COMMAND_MAX_CHARS)}`)!;
    expect(c).toHaveLength(LIMITS.COMMAND_MAX_CHARS);
    expect(c.endsWith('…')).toBe(true);
  });
});
