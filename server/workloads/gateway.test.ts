// The ingress controller's Gateway API (_gateway.py, _gateway_conf.py) from given objects: the
// status it writes on GatewayClasses, Gateways and HTTPRoutes, and the nginx.conf their routes
// become beside the Ingresses', which the real nginx accepts (`nginx -t`) and, in a private
// network namespace, serves as the spec says.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingNginxTools, nginxTest, pem, workloadPython } from '../../test/support/nginx.ts';

const missing = missingNginxTools();
if (missing.length) console.warn(`skipping the Gateway API configuration tests: not on PATH: ${missing.join(', ')}`);
// The live test runs nginx and its backends in a network namespace of its own, as an unprivileged user may.
const noNamespaces = spawnSync('sh', ['-c', 'command -v ip && command -v curl && unshare --user --map-root-user --net true'], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status !== 0;

const scratch = mkdtempSync(join(tmpdir(), 'gateway-conf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CONTROLLER = 'k8s.io/ingress-nginx';
const RESOLVE = `import _gateway as g, _gateway_conf as gc, _ingress_conf as c, _kube as k
s = k.loads(sys.stdin.read())
w = s["world"]
statuses, matches = g.resolve(w, "${CONTROLLER}", s["addresses"], s["certificates"], s["now"])
servers, upstreams, warnings = c.build(s["ingresses"], w["services"], s["slices"], s["certificates"])
servers, upstreams = gc.add_routes(servers, upstreams, matches, w["services"], s["slices"], s["certificates"], warnings)
print(k.dumps({"statuses": {kind + " " + c.key(o).lstrip("/"): st for kind, o, st in statuses}, "warnings": warnings,
               "conf": c.render(servers, upstreams, {"runDir": s["runDir"], "defaultCertificate": {"file": s["fake"], "sha": "f00d"}})}))`;

type Obj = Record<string, any>;
interface Condition { type: string; status: string; reason: string; message: string; observedGeneration: number; lastTransitionTime: string }
interface World { classes?: Obj[]; gateways?: Obj[]; routes?: Obj[]; grants?: Obj[]; services?: Obj[]; namespaces?: Obj[]; slices?: Obj[]; ingresses?: Obj[]; certificates?: Record<string, Obj>; addresses?: string[]; now?: string }
interface Resolved { statuses: Record<string, Obj>; warnings: string[]; conf: string }

let fake = '';
let secureCert = '';
const certificate = () => ({ file: secureCert, sha: 'c0ffee', names: ['secure.example.com'], hasSAN: true, cn: 'secure.example.com' });

function resolve(world: World): Resolved {
  return workloadPython<Resolved>(RESOLVE, {
    world: { classes: world.classes ?? [nginxClass], gateways: world.gateways ?? [], routes: world.routes ?? [], grants: world.grants ?? [],
      services: world.services ?? services, namespaces: world.namespaces ?? [] },
    slices: world.slices ?? slices, ingresses: world.ingresses ?? [], certificates: world.certificates ?? {},
    addresses: world.addresses ?? ['172.18.255.200'], now: world.now ?? '2026-01-01T00:00:00Z', runDir: scratch, fake,
  });
}

let created = 0;
const metadata = (name: string, namespace = 'default', generation = 1) => ({ name, namespace, generation, creationTimestamp: `2026-01-01T00:00:${String(created++).padStart(2, '0')}Z` });
const nginxClass = { metadata: { name: 'nginx', generation: 1 }, spec: { controllerName: CONTROLLER } };
const gateway = (name: string, listeners: Obj[], extra: Obj = {}) => ({ metadata: metadata(name, 'default', 2), spec: { gatewayClassName: 'nginx', listeners }, ...extra });
const http = (extra: Obj = {}) => ({ name: 'http', protocol: 'HTTP', port: 80, ...extra });
const route = (name: string, spec: Obj, namespace = 'default', extra: Obj = {}) => ({ metadata: metadata(name, namespace), spec: { parentRefs: [{ name: 'gw', namespace: 'default' }], ...spec }, ...extra });
const to = (name: string, port = 80, extra: Obj = {}) => ({ name, port, ...extra });
const rule = (matches: Obj[], backendRefs: Obj[], extra: Obj = {}) => ({ matches, backendRefs, ...extra });
const prefix = (value: string, extra: Obj = {}) => ({ path: { type: 'PathPrefix', value }, ...extra });
const service = (name: string, namespace = 'default') => ({ metadata: { name, namespace }, spec: { type: 'ClusterIP', clusterIP: '10.96.1.1', ports: [{ name: 'http', port: 80 }] } });
const slice = (svc: string, ips: string[], namespace = 'default') => ({
  metadata: { name: `${svc}-abcde`, namespace, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4', ports: [{ name: 'http', port: 9376 }], endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});
const services = [service('blue'), service('green'), service('shared', 'other')];
const slices = [slice('blue', ['10.0.0.1', '10.0.0.2']), slice('green', ['10.0.0.3']), slice('shared', ['10.0.0.4'], 'other')];

/** A status's conditions as "Type=Status/Reason". */
const summary = (conds: Condition[] | undefined) => (conds ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);
const parentConditions = (r: Resolved, name: string, i = 0) => summary(r.statuses[`HTTPRoute default/${name}`]?.parents?.[i]?.conditions);

describe.skipIf(missing.length)('the Gateway API as the ingress controller implements it', () => {
  beforeAll(() => {
    fake = pem(scratch, 'fake', '/CN=Kubernetes Ingress Controller Fake Certificate', 'DNS:ingress.local');
    secureCert = pem(scratch, 'secure', '/CN=secure.example.com', 'DNS:secure.example.com');
  });

  describe('status', () => {
    it('accepts the GatewayClasses that name its controller, with their generation, and leaves the others alone', () => {
      const other = { metadata: { name: 'envoy', generation: 3 }, spec: { controllerName: 'gateway.envoyproxy.io/gatewayclass-controller' } };
      const r = resolve({ classes: [{ ...nginxClass, metadata: { name: 'nginx', generation: 4 } }, other] });
      const conds: Condition[] = r.statuses['GatewayClass nginx'].conditions;
      expect(summary(conds)).toEqual(['Accepted=True/Accepted', 'SupportedVersion=True/SupportedVersion']);
      expect(conds.map((c) => c.observedGeneration)).toEqual([4, 4]);
      expect(Object.keys(r.statuses)).toEqual(['GatewayClass nginx']);
    });

    it('programs a Gateway at the load-balancer address; judges each listener by protocol, port and certificate', () => {
      const r = resolve({
        certificates: { 'default/secure-tls': certificate(), 'certs/shared-tls': certificate() },
        grants: [{ metadata: { name: 'gateways', namespace: 'certs' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'default' }], to: [{ group: '', kind: 'Secret', name: 'shared-tls' }] } }],
        gateways: [gateway('gw', [
          http(),
          { name: 'https', protocol: 'HTTPS', port: 443, hostname: 'secure.example.com', tls: { certificateRefs: [{ name: 'secure-tls' }] } },
          { name: 'granted', protocol: 'HTTPS', port: 443, hostname: 'shared.example.com', tls: { certificateRefs: [{ name: 'shared-tls', namespace: 'certs' }] } },
          { name: 'no-secret', protocol: 'HTTPS', port: 443, hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'absent' }] } },
          { name: 'not-granted', protocol: 'HTTPS', port: 443, hostname: 'b.example.com', tls: { certificateRefs: [{ name: 'secure-tls', namespace: 'elsewhere' }] } },
          { name: 'alt-port', protocol: 'HTTP', port: 8080 },
          { name: 'tcp', protocol: 'TCP', port: 5432 },
        ])],
      });
      const gw = r.statuses['Gateway default/gw'];
      expect(gw.addresses).toEqual([{ type: 'IPAddress', value: '172.18.255.200' }]);
      expect(summary(gw.conditions)).toEqual(['Accepted=True/ListenersNotValid', 'Programmed=True/Programmed']);
      expect(gw.conditions[0].observedGeneration).toBe(2);
      const listeners = Object.fromEntries(gw.listeners.map((l: Obj) => [l.name, summary(l.conditions).slice(0, 3)]));
      expect(listeners).toEqual({
        http: ['Accepted=True/Accepted', 'Programmed=True/Programmed', 'ResolvedRefs=True/ResolvedRefs'],
        https: ['Accepted=True/Accepted', 'Programmed=True/Programmed', 'ResolvedRefs=True/ResolvedRefs'],
        granted: ['Accepted=True/Accepted', 'Programmed=True/Programmed', 'ResolvedRefs=True/ResolvedRefs'],
        'no-secret': ['Accepted=True/Accepted', 'Programmed=False/Invalid', 'ResolvedRefs=False/InvalidCertificateRef'],
        'not-granted': ['Accepted=True/Accepted', 'Programmed=False/Invalid', 'ResolvedRefs=False/RefNotPermitted'],
        'alt-port': ['Accepted=False/PortUnavailable', 'Programmed=False/Invalid', 'ResolvedRefs=True/ResolvedRefs'],
        tcp: ['Accepted=False/UnsupportedProtocol', 'Programmed=False/Invalid', 'ResolvedRefs=True/ResolvedRefs'],
      });
      expect(gw.listeners[0].supportedKinds).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
      expect(gw.listeners.find((l: Obj) => l.name === 'tcp').supportedKinds).toEqual([]);
    });

    it('a Gateway without a load-balancer address is not programmed; one of another class has no status from it', () => {
      const r = resolve({ addresses: [], gateways: [gateway('gw', [http()]), { ...gateway('theirs', [http()]), spec: { gatewayClassName: 'envoy', listeners: [http()] } }] });
      expect(summary(r.statuses['Gateway default/gw'].conditions)).toEqual(['Accepted=True/Accepted', 'Programmed=False/AddressNotAssigned']);
      expect(r.statuses['Gateway default/gw'].addresses).toEqual([]);
      expect(r.statuses['Gateway default/theirs']).toBeUndefined();
    });

    it('attaches routes by sectionName, port, allowedRoutes namespaces and hostnames, and says why it does not', () => {
      const gw = gateway('gw', [http({ hostname: '*.example.com' }), { name: 'open', protocol: 'HTTP', port: 80, hostname: 'open.test', allowedRoutes: { namespaces: { from: 'All' } } },
        { name: 'team', protocol: 'HTTP', port: 80, hostname: 'team.test', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } } }]);
      const backends = [rule([prefix('/')], [to('blue')])];
      const r = resolve({
        gateways: [gw],
        namespaces: [{ metadata: { name: 'team-a', labels: { team: 'a' } } }, { metadata: { name: 'other', labels: {} } }],
        routes: [
          route('ok', { parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: ['shop.example.com'], rules: backends }),
          route('no-section', { parentRefs: [{ name: 'gw', sectionName: 'https' }], rules: backends }),
          route('no-port', { parentRefs: [{ name: 'gw', port: 8443 }], rules: backends }),
          route('same-only', { parentRefs: [{ name: 'gw', namespace: 'default', sectionName: 'http' }], rules: [rule([prefix('/')], [to('shared')])] }, 'other'),
          route('from-all', { parentRefs: [{ name: 'gw', namespace: 'default', sectionName: 'open' }], rules: [rule([prefix('/')], [to('shared')])] }, 'other'),
          route('selected', { parentRefs: [{ name: 'gw', namespace: 'default', sectionName: 'team' }], rules: [rule([prefix('/')], [to('blue', 80, { namespace: 'default' })])] }, 'team-a'),
          route('wrong-host', { parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: ['shop.example.org'], rules: backends }),
          route('unknown-gateway', { parentRefs: [{ name: 'nope' }], rules: backends }),
        ],
      });
      const accepted = (name: string, ns = 'default') => summary(r.statuses[`HTTPRoute ${ns}/${name}`]?.parents?.[0]?.conditions)[0];
      expect(accepted('ok')).toBe('Accepted=True/Accepted');
      expect(accepted('no-section')).toBe('Accepted=False/NoMatchingParent');
      expect(accepted('no-port')).toBe('Accepted=False/NoMatchingParent');
      expect(accepted('same-only', 'other')).toBe('Accepted=False/NotAllowedByListeners');
      expect(accepted('from-all', 'other')).toBe('Accepted=True/Accepted');
      expect(accepted('selected', 'team-a')).toBe('Accepted=True/Accepted');
      expect(accepted('wrong-host')).toBe('Accepted=False/NoMatchingListenerHostname');
      // A parent that is not one of ours gets no status from this controller.
      expect(r.statuses['HTTPRoute default/unknown-gateway']).toBeUndefined();
      // attachedRoutes counts what allowedRoutes and parentRefs select, whatever the hostnames.
      expect(r.statuses['Gateway default/gw'].listeners.map((l: Obj) => `${l.name}=${l.attachedRoutes}`)).toEqual(['http=2', 'open=1', 'team=1']);
      expect(r.conf).toContain('server_name "shop.example.com" ;');
      expect(r.conf).not.toContain('shop.example.org');
    });

    it('resolves backendRefs: BackendNotFound, RefNotPermitted without a ReferenceGrant, unsupported filters refused', () => {
      const grant = { metadata: { name: 'routes', namespace: 'other' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] } };
      const routes = [
        route('missing', { rules: [rule([prefix('/')], [to('nowhere')])] }),
        route('cross', { hostnames: ['cross.example.com'], rules: [rule([prefix('/')], [to('shared', 80, { namespace: 'other' })])] }),
        route('mirror', { rules: [rule([prefix('/m')], [to('blue')], { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'green', port: 80 } } }] })] }),
      ];
      const without = resolve({ gateways: [gateway('gw', [http()])], routes });
      expect(parentConditions(without, 'missing')).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']);
      expect(without.statuses['HTTPRoute default/missing'].parents[0].conditions[1].message).toBe('Service default/nowhere not found');
      expect(parentConditions(without, 'cross')).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/RefNotPermitted']);
      expect(parentConditions(without, 'mirror')).toEqual(['Accepted=False/UnsupportedValue', 'ResolvedRefs=True/ResolvedRefs']);
      expect(without.statuses['HTTPRoute default/missing'].parents[0]).toMatchObject({ controllerName: CONTROLLER, parentRef: { name: 'gw', namespace: 'default' } });
      // A rule whose backends are all invalid answers 500; a route that is not accepted is not served.
      expect(without.conf).toMatch(/location = "\/@httproute-default-missing-rule0" \{[^}]*return 500;/);
      expect(without.conf).not.toContain('httproute-default-mirror');
      const granted = resolve({ gateways: [gateway('gw', [http()])], routes, grants: [grant] });
      expect(parentConditions(granted, 'cross')).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs']);
      expect(granted.conf).toContain('server 10.0.0.4:9376 max_fails=0;');
    });

    it('keeps other controllers\' parents and each condition\'s lastTransitionTime while its status holds', () => {
      const theirs = { parentRef: { name: 'elsewhere' }, controllerName: 'example.com/other', conditions: [] };
      const first = resolve({ gateways: [gateway('gw', [http()])], routes: [route('r', { rules: [rule([prefix('/')], [to('blue')])] }, 'default', { status: { parents: [theirs] } })] });
      const status = first.statuses['HTTPRoute default/r'];
      expect(status.parents[0]).toEqual(theirs);
      // The next sync sees the status written; a condition that holds keeps its time, one that flips gets the new time.
      const later = resolve({
        now: '2026-01-02T00:00:00Z', gateways: [gateway('gw', [http()])],
        routes: [route('r', { rules: [rule([prefix('/')], [to('nowhere')])] }, 'default', { status })],
      });
      expect(later.statuses['HTTPRoute default/r'].parents[1].conditions.map((c: Condition) => `${c.type} ${c.lastTransitionTime}`))
        .toEqual(['Accepted 2026-01-01T00:00:00Z', 'ResolvedRefs 2026-01-02T00:00:00Z']);
    });
  });

  describe('nginx.conf', () => {
    /** The regular expressions of a server's route map, in the order nginx tries them, with the rule each names. */
    const mapEntries = (conf: string, variable: string) => {
      const block = conf.slice(conf.indexOf(` ${variable} {`), conf.indexOf('default ""', conf.indexOf(` ${variable} {`)));
      return [...block.matchAll(/"~([^"]*)" "\/@httproute-default-([^"]+)";/g)].map(([, re, target]) => `${re.replace(/\\\\/g, '\\')} -> ${target}`);
    };

    it('orders matches as the spec does: Exact, then regular expressions, the longest prefix, a method, more headers, the oldest route', () => {
      const r = resolve({
        gateways: [gateway('gw', [http()])],
        routes: [
          route('old', { hostnames: ['a.example.com'], rules: [rule([prefix('/')], [to('blue')]), rule([prefix('/api', { headers: [{ name: 'X-Env', value: 'canary' }] })], [to('green')])] }),
          route('new', { hostnames: ['a.example.com'], rules: [
            rule([prefix('/api')], [to('blue')]),
            rule([prefix('/api', { method: 'POST' })], [to('green')]),
            rule([{ path: { type: 'Exact', value: '/api' } }], [to('green')]),
            rule([{ path: { type: 'RegularExpression', value: '/v[0-9]+/.*' } }], [to('green')]),
            rule([prefix('/')], [to('green')]),
          ] }),
        ],
      });
      expect(mapEntries(r.conf, '$gateway_rule_1')).toEqual([
        '(?m)\\A80\\n[^\\n]*\\n/api\\n[^\\n]*\\z -> new-rule2',
        '(?m)\\A80\\n[^\\n]*\\n(?:/v[0-9]+/.*)\\n[^\\n]*\\z -> new-rule3',
        '(?m)\\A80\\nPOST\\n/api(?:/[^\\n]*)?\\n[^\\n]*\\z -> new-rule1',
        '(?m)\\A80\\n[^\\n]*\\n/api(?:/[^\\n]*)?\\ncanary\\z -> old-rule1',
        '(?m)\\A80\\n[^\\n]*\\n/api(?:/[^\\n]*)?\\n[^\\n]*\\z -> new-rule0',
        // Equal "/" prefixes: the oldest route first.
        '(?m)\\A80\\n[^\\n]*\\n/[^\\n]*\\n[^\\n]*\\z -> old-rule0',
        '(?m)\\A80\\n[^\\n]*\\n/[^\\n]*\\n[^\\n]*\\z -> new-rule4',
      ]);
      expect(r.conf).toContain('map "$server_port\\n$request_method\\n$uri\\n$http_x_env" $gateway_rule_1 {');
      expect(nginxTest(scratch, r.conf).code).toBe(0);
    });

    it('weights a rule\'s backends in one upstream of their endpoints, whatever number each has; an invalid one\'s share answers 500', () => {
      const r = resolve({ gateways: [gateway('gw', [http()])], routes: [route('split', { rules: [rule([prefix('/')], [to('blue', 80, { weight: 3 }), to('green', 80, { weight: 1 }), to('green', 80, { weight: 0 }), to('nowhere', 80, { weight: 2 })])] })] });
      // blue's two endpoints share its 3, green's one has 1, the missing Service 2: 3+3 against 2 against 4 is 3:1:2.
      expect(r.conf).toContain('upstream httproute-default-split-rule0 {\n        server 10.0.0.1:9376 weight=3 max_fails=0;\n        server 10.0.0.2:9376 weight=3 max_fails=0;\n        server 10.0.0.3:9376 weight=2 max_fails=0;\n        server 127.0.0.1:8182 weight=4 max_fails=0;\n        keepalive 320;');
      expect(r.conf).toMatch(/server \{\n {8}listen 127\.0\.0\.1:8182;\n[^}]*return 500;/);
      expect(r.conf).toContain('proxy_pass http://httproute-default-split-rule0$request_uri;');
      expect(nginxTest(scratch, r.conf).code).toBe(0);
    });

    it('serves hostnames the listener admits; routes without hostnames on the catch-all server, and as the fallback of a hostname', () => {
      const r = resolve({
        gateways: [gateway('gw', [http()]), gateway('wild', [http({ name: 'wild', hostname: '*.example.com' })])],
        routes: [
          route('any', { rules: [rule([prefix('/')], [to('blue')])] }),
          route('wild', { parentRefs: [{ name: 'wild' }], hostnames: ['shop.example.com', '*.example.com', 'x.example.org'], rules: [rule([prefix('/w')], [to('green')])] }),
        ],
      });
      expect(r.conf).toContain('server_name "shop.example.com" ;');
      // An HTTPRoute's wildcard stands for any number of labels: nginx's own *. names do.
      expect(r.conf).toContain('server_name "*.example.com" ;');
      expect(r.conf).not.toContain('example.org');
      const block = (host: string) => r.conf.slice(r.conf.indexOf(`## start server ${host}\n`), r.conf.indexOf(`## end server ${host}\n`));
      // Servers by hostname: *.example.com, _, shop.example.com.
      expect(block('_')).toContain('rewrite ^ $gateway_rule_1 last;');
      expect(mapEntries(r.conf, '$gateway_rule_1')).toEqual(['(?m)\\A80\\n[^\\n]*\\n/[^\\n]*\\z -> any-rule0']);
      // A hostname's own routes first, then the catch-all one.
      for (const v of ['$gateway_rule_0', '$gateway_rule_2']) expect(mapEntries(r.conf, v).map((e) => e.split(' -> ')[1])).toEqual(['wild-rule0', 'any-rule0']);
      expect(nginxTest(scratch, r.conf).code).toBe(0);
    });

    it('shares a host with an Ingress: the Ingress\'s paths as locations, the routes for the rest, and "/" to the Ingress that claims it', () => {
      const ingress = (name: string, path: string) => ({ metadata: metadata(name), spec: { rules: [{ host: 'a.example.com', http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'blue', port: { number: 80 } } } }] } }] } });
      const routes = [route('r', { hostnames: ['a.example.com'], rules: [rule([prefix('/')], [to('green')])] })];
      const shared = resolve({ gateways: [gateway('gw', [http()])], routes, ingresses: [ingress('docs', '/docs')] });
      const block = shared.conf.slice(shared.conf.indexOf('## start server a.example.com'), shared.conf.indexOf('## end server a.example.com'));
      expect(block).toContain('location "/docs/" {');
      expect(block).toMatch(/location "\/" \{\n\s+if \(\$gateway_rule_1 = ""\)/);
      expect(nginxTest(scratch, shared.conf).code).toBe(0);
      const claimed = resolve({ gateways: [gateway('gw', [http()])], routes, ingresses: [ingress('root', '/')] });
      expect(claimed.warnings).toContain('Host "a.example.com": an Ingress serves "/", which takes the requests its HTTPRoutes match');
      expect(claimed.conf).not.toContain('rewrite ^ $gateway_rule');
    });

    it('RequestHeaderModifier sets, adds to and removes headers; RequestRedirect answers with its scheme, port and status', () => {
      const r = resolve({
        certificates: { 'default/secure-tls': certificate() },
        gateways: [gateway('gw', [http(), { name: 'https', protocol: 'HTTPS', port: 443, hostname: 'secure.example.com', tls: { certificateRefs: [{ name: 'secure-tls' }] } }])],
        routes: [
          route('headers', { parentRefs: [{ name: 'gw', sectionName: 'https' }], hostnames: ['secure.example.com'], rules: [rule([prefix('/')], [to('blue')], { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {
            set: [{ name: 'X-Forwarded-For', value: 'cost $5' }], add: [{ name: 'X-Via', value: 'gateway' }], remove: ['X-Debug'] } }] })] }),
          route('redirect', { parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: ['secure.example.com'], rules: [rule([prefix('/')], [], { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] })] }),
          route('moved', { parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: ['old.example.com'], rules: [rule([prefix('/')], [], { filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'new.example.com', port: 8080 } }] })] }),
        ],
      });
      const loc = (name: string) => r.conf.slice(r.conf.indexOf(`location = "/@httproute-default-${name}-rule0"`), r.conf.indexOf('        }\n', r.conf.indexOf(`location = "/@httproute-default-${name}-rule0"`)));
      expect(loc('headers')).toContain('proxy_set_header X-Forwarded-For "cost ${literal_dollar}5";');
      expect(loc('headers')).not.toContain('proxy_set_header X-Forwarded-For        $remote_addr;');
      expect(loc('headers')).toMatch(/proxy_set_header X-Via "(\$gateway_rule_\d+_add_\d+)";/);
      expect(r.conf).toMatch(/map "\$http_x_via" \$gateway_rule_\d+_add_\d+ \{\n {8}"" "gateway";\n {8}default "\$http_x_via,gateway";/);
      expect(loc('headers')).toContain('proxy_set_header X-Debug "";');
      expect(loc('redirect')).toContain('return 301 "https://$host$request_uri";');
      expect(loc('moved')).toContain('return 302 "$scheme://new.example.com:8080$request_uri";');
      // The HTTPS listener's hostname is served with its certificate; the redirect is for port 80 only.
      expect(r.conf).toContain(`# PEM sha: c0ffee\n        ssl_certificate     ${secureCert};`);
      expect(mapEntries(r.conf, '$gateway_rule_2').map((e) => e.replace(/\\n.* -> /, ' -> '))).toEqual(['(?m)\\A443 -> headers-rule0', '(?m)\\A80 -> redirect-rule0']);
      expect(nginxTest(scratch, r.conf).code).toBe(0);
    });

    it.skipIf(noNamespaces)('routes real requests as configured: nginx and the backends in a private network namespace', () => {
      const r = resolve({
        gateways: [gateway('gw', [http()])],
        routes: [route('shop', { hostnames: ['shop.example.com'], rules: [
          rule([prefix('/api', { headers: [{ name: 'X-Canary', value: 'yes' }] })], [to('green')]),
          rule([prefix('/api')], [to('blue')]),
          rule([{ path: { type: 'Exact', value: '/split' } }], [to('blue', 80, { weight: 1 }), to('green', 80, { weight: 1 })]),
          rule([{ path: { type: 'Exact', value: '/old' } }], [], { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }),
          rule([{ path: { type: 'Exact', value: '/gone' } }], [to('nowhere')]),
          rule([{ path: { type: 'Exact', value: '/half' } }], [to('green', 80, { weight: 1 }), to('nowhere', 80, { weight: 1 })]),
          rule([{ path: { type: 'Exact', value: '/re' }, headers: [{ name: 'X-Version', type: 'RegularExpression', value: 'v[0-9]+' }], queryParams: [{ name: 'tier', value: 'gold' }] }], [to('green')]),
        ] })],
      });
      const conf = join(scratch, 'live.conf');
      writeFileSync(conf, r.conf.replace('access_log /dev/stdout', `access_log ${join(scratch, 'access.log')}`));
      // Each backend answers with its address, as agnhost's serve-hostname answers with its pod's name.
      const backend = 'import http.server, sys\nclass H(http.server.BaseHTTPRequestHandler):\n def do_GET(s):\n  b = sys.argv[1].encode()\n  s.send_response(200); s.send_header("Content-Length", str(len(b))); s.end_headers(); s.wfile.write(b)\n def log_message(s, *a): pass\nhttp.server.HTTPServer((sys.argv[1], 9376), H).serve_forever()';
      const H = '-H Host:shop.example.com http://127.0.0.1';
      const script = `set -e; export PATH=$PATH:/usr/sbin; ip link set lo up
for ip in 10.0.0.1 10.0.0.2 10.0.0.3; do ip addr add $ip/32 dev lo; python3 -c '${backend}' $ip & done
nginx -c ${conf} 2>/dev/null &
for ip in 10.0.0.1 10.0.0.2 10.0.0.3; do until curl -s -o /dev/null http://$ip:9376/; do :; done; done
until curl -s -o /dev/null http://127.0.0.1/; do :; done
c() { curl -s -m2 -o /dev/null -w '%{http_code} %{redirect_url}' "$@"; curl -s -m2 "$@" | tr -d '\\n' | head -c 20; echo; }
c ${H}/api/x; c -H 'X-Canary: yes' ${H}/api/x; c -H 'X-Canary: yes' ${H}/apiary; c ${H}/old?a=1; c ${H}/gone; c -H Host:other.example.com http://127.0.0.1/api
c -H 'X-Version: v12' ${H}'/re?tier=gold'; c -H 'X-Version: v1x' ${H}'/re?tier=gold'; c -H 'X-Version: v1' ${H}'/re?tier=silver'
for i in $(seq 30); do curl -s ${H}/split; echo; done | sort | uniq -c | awk '{print $2}' | tr '\\n' ' '; echo
for i in $(seq 30); do curl -s -o /dev/null -w '%{http_code}\\n' ${H}/half; done | sort -u | tr '\\n' ' '`;
      // The shell is the first process of a PID namespace: when it ends, however it ends, so do nginx and the backends.
      const run = spawnSync('timeout', ['30', 'unshare', '--user', '--map-root-user', '--net', '--pid', '--fork', '--kill-child', 'bash', '-c', script], { encoding: 'utf8' });
      const lines = run.stdout.trim().split('\n').map((l) => l.trim());
      expect(lines.slice(0, 6)).toEqual([
        expect.stringMatching(/^200 10\.0\.0\.[12]$/), '200 10.0.0.3', expect.stringMatching(/^404 /),
        expect.stringMatching(/^301 https:\/\/shop\.example\.com\/old\?a=1/), expect.stringMatching(/^500 /), expect.stringMatching(/^404 /),
      ]);
      // A header's regular expression matches its whole value; a query parameter its exact value.
      expect(lines.slice(6, 9)).toEqual(['200 10.0.0.3', expect.stringMatching(/^404 /), expect.stringMatching(/^404 /)]);
      // Both backends of the split rule answer, blue's two endpoints and green's one.
      expect(lines[9].split(' ').sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
      // Half of /half goes to green, the other half is the missing Service's: 500.
      expect(lines[10]).toBe('200 500');
    });
  });
});
