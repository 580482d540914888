import { describe, expect, it } from 'vitest';
import { cpuModel, osName, versionLine } from './machine.ts';

describe('machine facts', () => {
  it('reads the CPU model from /proc/cpuinfo', () => {
    expect(cpuModel('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n')).toBe('AMD EPYC 7B13');
    expect(cpuModel('processor : 0\n')).toBe('unknown');
  });

  it('reads PRETTY_NAME from os-release', () => {
    expect(osName('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('takes a version from stdout, else stderr, and says when the tool is missing', () => {
    expect(versionLine({ code: 0, stdout: '\nPython 3.11.7\n', stderr: 'noise' })).toBe('Python 3.11.7');
    expect(versionLine({ code: 0, stdout: '', stderr: 'DiG 9.18.49\n' })).toBe('DiG 9.18.49');
    expect(versionLine({ code: 127, stdout: '', stderr: 'bash: dnsmasq: command not found' })).toBe('not found');
    expect(versionLine({ code: 1, stdout: 'ip: odd', stderr: '' })).toBe('ip: odd (exit 1)');
  });
});
