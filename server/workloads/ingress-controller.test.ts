// The ingress controller's Ingress handlers (_ingress_controller.py), as ingress-nginx's store runs
// them: what it logs and the Sync events it records as an Ingress appears, gains or loses a class
// of its own, or changes while it is its own.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { workloadPython } from '../../test/support/nginx.ts';

const why = spawnSync('sh', ['-c', 'command -v python3']).status === 0 ? undefined : 'python3 is not on PATH';
if (why) console.warn(`skipping the ingress controller handler tests: ${why}`);

// Each change [old, cur] goes through the handlers of a controller without a class-less watch; what
// it logged (klog's message and fields) and the events it recorded come back per change.
const HANDLERS = `import io, _ingress_controller as ic
changes = __import__("json").loads(sys.stdin.read())
c = ic.Controller(None, dict(ic.FLAGS, **{"watch-ingress-without-class": "false"}))
c.store["IngressClass"] = {"nginx": {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}}
recorded = []
c.event = lambda obj, api_version, kind, type_, reason, message: recorded.append(f"{type_} {reason} {message}")
out, real = [], sys.stderr
for old, cur in changes:
    sys.stderr, recorded[:] = io.StringIO(), []
    c.ingress_changed(old, cur)
    out.append({"logs": [l.split("] ", 1)[1] for l in sys.stderr.getvalue().splitlines()], "events": list(recorded)})
sys.stderr = real
print(__import__("json").dumps(out))`;

type Obj = Record<string, unknown>;
const ingress = (spec: Obj): Obj => ({ metadata: { name: 'shop', namespace: 'default', uid: 'u1' }, spec: { rules: [{ host: 'shop.example.com' }], ...spec } });
const classed = ingress({ ingressClassName: 'nginx' });
const classless = ingress({});

describe.skipIf(why)('the ingress controller\'s Ingress handlers', () => {
  it('log an Ingress that appears, or that gains or loses the class, as the store does; Sync only for its own', () => {
    const r = workloadPython<{ logs: string[]; events: string[] }[]>(HANDLERS, [
      [null, classless],
      [null, classed],
      [classed, classless],
      [classless, classed],
      [classed, ingress({ ingressClassName: 'nginx', rules: [{ host: 'www.example.com' }] })],
      [classless, ingress({ rules: [{ host: 'www.example.com' }] })],
    ]);
    expect(r).toEqual([
      { logs: ['"Ignoring ingress because of error while validating ingress class" ingress="default/shop" error="ingress does not contain a valid IngressClass"'], events: [] },
      { logs: ['"Found valid IngressClass" ingress="default/shop" ingressclass="nginx"'], events: ['Normal Sync Scheduled for sync'] },
      { logs: ['"removing ingress because of unknown ingressclass" ingress="default/shop"'], events: [] },
      { logs: ['"creating ingress" ingress="default/shop" ingressclass="nginx"'], events: ['Normal Sync Scheduled for sync'] },
      { logs: [], events: ['Normal Sync Scheduled for sync'] },
      { logs: [], events: [] },
    ]);
  });
});
