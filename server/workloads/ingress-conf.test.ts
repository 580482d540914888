// The ingress controller's configuration (_ingress_conf.py) from given objects: which Ingresses it
// serves, the servers, locations and upstreams they become, and an nginx.conf the real nginx
// accepts (`nginx -t`), as ingress-nginx renders them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingNginxTools, nginxTest as nginxTestIn, pem as pemIn, workloadPython } from '../../test/support/nginx.ts';

const missing = missingNginxTools();
if (missing.length) console.warn(`skipping the ingress configuration tests: not on PATH: ${missing.join(', ')}`);

const scratch = mkdtempSync(join(tmpdir(), 'ingress-conf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// One Python run per case: the objects in, the configuration out.
const RENDER = `import _ingress_conf as c, _kube as k
s = k.loads(sys.stdin.read())
served = c.served_ingresses(s["ingresses"], s["classes"], s["flags"])
servers, upstreams, warnings = c.build(served, s["services"], s["slices"], s["certificates"])
print(k.dumps({"conf": c.render(servers, upstreams, {"runDir": s["runDir"], "defaultCertificate": {"file": s["fake"], "sha": "f00d"}}),
               "warnings": warnings, "served": [c.key(i) for i in served]}))`;

type Obj = Record<string, unknown>;
interface World { ingresses: Obj[]; classes?: Obj[]; services?: Obj[]; slices?: Obj[]; certificates?: Record<string, Obj>; watchWithoutClass?: boolean }
interface Rendered { conf: string; warnings: string[]; served: string[] }

let fake = '';
let secureCert = '';

const pem = (name: string, subject: string, san?: string) => pemIn(scratch, name, subject, san);

function render(world: World): Rendered {
  const input = {
    ingresses: world.ingresses, classes: world.classes ?? [nginxClass], services: world.services ?? [], slices: world.slices ?? [],
    certificates: world.certificates ?? {}, runDir: scratch, fake,
    flags: { controller_class: 'k8s.io/ingress-nginx', ingress_class: 'nginx', watch_without_class: world.watchWithoutClass ?? true },
  };
  return workloadPython<Rendered>(RENDER, input);
}

const nginxTest = (conf: string) => nginxTestIn(scratch, conf);

const nginxClass = { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } };
let created = 0;
const ingress = (name: string, spec: Obj, extra: Obj = {}): Obj => ({
  metadata: { name, namespace: 'default', creationTimestamp: `2026-01-01T00:00:${String(created++).padStart(2, '0')}Z`, ...extra }, spec,
});
const backend = (name: string, port: number | string) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
const path = (p: string, pathType: string, svc = 'web', port: number | string = 80) => ({ path: p, pathType, backend: backend(svc, port) });
const rule = (host: string | undefined, ...paths: Obj[]) => ({ ...(host ? { host } : {}), http: { paths } });
const service = (name: string, ports: Obj[]) => ({ metadata: { name, namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.96.1.1', ports } });
const slice = (svc: string, ports: Obj[], endpoints: [string, boolean][]) => ({
  metadata: { name: `${svc}-abcde`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4', ports, endpoints: endpoints.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready } })),
});
const web = { services: [service('web', [{ name: 'http', port: 80, targetPort: 8080 }])], slices: [slice('web', [{ name: 'http', port: 8080 }], [['10.244.0.4', true], ['10.244.1.4', true], ['10.244.1.9', false]])] };

/** The text of one server block, by hostname. */
const serverBlock = (conf: string, host: string) => {
  const start = conf.indexOf(`## start server ${host}\n`);
  expect(start, `no server ${host}`).toBeGreaterThanOrEqual(0);
  return conf.slice(start, conf.indexOf(`## end server ${host}\n`));
};
/** The location blocks of a server, by match (nginx picks among prefixes by length, not order):
 *  [match, upstream, how it answers]. */
const locations = (block: string) => [...block.matchAll(/location ((?:= |~\* )?"[^"]*") \{([\s\S]*?)\n {8}\}/g)].map(([, match, body]) => [
  match, /set \$proxy_upstream_name "([^"]*)"/.exec(body)?.[1] ?? '', /return (\d+)/.exec(body)?.[1] ?? 'proxy',
]).sort(([a], [b]) => a.localeCompare(b));

describe.skipIf(missing.length)('the ingress controller\'s nginx.conf', () => {
  beforeAll(() => {
    fake = pem('fake', '/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate', 'DNS:ingress.local');
    secureCert = pem('secure', '/CN=secure.example.com', 'DNS:secure.example.com,DNS:*.apps.example.com');
  });

  it('routes hosts and paths as ingress-nginx does: Prefix as /p/ plus = /p, Exact as = /p, ImplementationSpecific as an nginx prefix', () => {
    const r = render({
      ...web,
      ingresses: [ingress('web', { ingressClassName: 'nginx', rules: [rule('a.example.com', path('/api', 'Prefix'), path('/exact', 'Exact'), path('/legacy', 'ImplementationSpecific'), path('/dir/', 'Prefix'))] })],
    });
    expect(r.served).toEqual(['default/web']);
    expect(locations(serverBlock(r.conf, 'a.example.com'))).toEqual([
      // A host's other paths go to the default backend (nginx's own 404 on port 8181).
      ['"/"', 'upstream-default-backend', 'proxy'],
      ['"/api/"', 'default-web-80', 'proxy'],
      ['"/dir/"', 'default-web-80', 'proxy'],
      ['"/legacy"', 'default-web-80', 'proxy'],
      ['= "/api"', 'default-web-80', 'proxy'],
      ['= "/dir/"', 'default-web-80', 'proxy'],
      ['= "/exact"', 'default-web-80', 'proxy'],
    ]);
    expect(serverBlock(r.conf, 'a.example.com')).toContain('server_name "a.example.com" ;');
    const t = nginxTest(r.conf);
    expect(t.out).toContain('syntax is ok');
    expect(t.code).toBe(0);
  });

  it('proxies to the ready endpoints of the Service port the backend names (by number, name or targetPort), not to the ClusterIP', () => {
    // The port's number and its targetPort both find the Service port (ingress-nginx's serviceEndpoints); a port it lacks, nothing.
    const byNumber = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/', 'Prefix', 'web', 80))] })] });
    expect(byNumber.conf).toMatch(/upstream default-web-80 \{\n {8}server 10\.244\.0\.4:8080 max_fails=0;\n {8}server 10\.244\.1\.4:8080 max_fails=0;/);
    const byTarget = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/', 'Prefix', 'web', 8080))] })] });
    expect(byTarget.conf).toMatch(/upstream default-web-8080 \{\n {8}server 10\.244\.0\.4:8080 max_fails=0;\n {8}server 10\.244\.1\.4:8080 max_fails=0;/);
    const lacking = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/', 'Prefix', 'web', 443))] })] });
    expect(locations(serverBlock(lacking.conf, 'a.example.com'))).toEqual([['"/"', 'default-web-443', '503']]);
    expect(lacking.warnings).toEqual(['Service "default/web" does not have any active Endpoint.']);
    const r = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/', 'Prefix', 'web', 'http'))] })] });
    expect(r.conf).toMatch(/upstream default-web-http \{\n {8}server 10\.244\.0\.4:8080 max_fails=0;\n {8}server 10\.244\.1\.4:8080 max_fails=0;\n {8}keepalive 320;/);
    expect(r.conf).not.toContain('10.244.1.9');
    expect(r.conf).not.toContain('10.96.1.1');
    expect(serverBlock(r.conf, 'a.example.com')).toContain('proxy_pass http://default-web-http;');
    expect(r.conf).toContain('upstream upstream-default-backend {\n        server 127.0.0.1:8181 max_fails=0;\n    }');
  });

  it('answers 503 for a backend without endpoints, and warns about a Service that does not exist', () => {
    const r = render({
      services: [service('idle', [{ port: 80 }])],
      ingresses: [ingress('web', { rules: [rule('a.example.com', path('/idle', 'Exact', 'idle', 80), path('/gone', 'Exact', 'gone', 80))] })],
    });
    expect(locations(serverBlock(r.conf, 'a.example.com')).slice(1)).toEqual([['= "/gone"', 'default-gone-80', '503'], ['= "/idle"', 'default-idle-80', '503']]);
    expect(r.warnings).toEqual(['Service "default/idle" does not have any active Endpoint.', 'Error obtaining Service endpoints: no object matching key "default/gone" in local store']);
    expect(nginxTest(r.conf).code).toBe(0);
  });

  it('serves only its own Ingresses: class nginx, the ingress.class annotation, and class-less ones with --watch-ingress-without-class', () => {
    const ingresses = [
      ingress('named', { ingressClassName: 'nginx', rules: [rule('named.example.com', path('/', 'Prefix'))] }),
      ingress('other', { ingressClassName: 'traefik', rules: [rule('other.example.com', path('/', 'Prefix'))] }),
      ingress('annotated', { rules: [rule('annotated.example.com', path('/', 'Prefix'))] }, { annotations: { 'kubernetes.io/ingress.class': 'nginx' } }),
      ingress('annotated-other', { rules: [rule('x.example.com', path('/', 'Prefix'))] }, { annotations: { 'kubernetes.io/ingress.class': 'haproxy' } }),
      ingress('classless', { rules: [rule('classless.example.com', path('/', 'Prefix'))] }),
    ];
    const traefik = { metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } };
    expect(render({ ...web, ingresses, classes: [nginxClass, traefik] }).served).toEqual(['default/named', 'default/annotated', 'default/classless']);
    expect(render({ ...web, ingresses, classes: [nginxClass, traefik], watchWithoutClass: false }).served).toEqual(['default/named', 'default/annotated']);
    // A class named nginx whose controller is another's is not ours.
    expect(render({ ...web, ingresses, classes: [{ metadata: { name: 'nginx' }, spec: { controller: 'example.com/other' } }], watchWithoutClass: false }).served).toEqual(['default/annotated']);
    expect(render({ ...web, ingresses, classes: [nginxClass, traefik] }).conf).not.toContain('other.example.com');
  });

  it('spec.defaultBackend: an Ingress without rules takes the catch-all server; with rules, it backs its hosts\' unmatched paths', () => {
    const r = render({
      services: [...web.services, service('fallback', [{ port: 8080 }])],
      slices: [...web.slices, slice('fallback', [{ name: '', port: 9000 }], [['10.244.0.7', true]])],
      ingresses: [
        ingress('catch-all', { defaultBackend: backend('fallback', 8080) }),
        ingress('hosts', { defaultBackend: backend('fallback', 8080), rules: [rule('b.example.com', path('/app', 'Exact'))] }),
      ],
    });
    expect(locations(serverBlock(r.conf, '_'))).toEqual([['"/"', 'default-fallback-8080', 'proxy']]);
    expect(locations(serverBlock(r.conf, 'b.example.com'))).toEqual([['"/"', 'default-fallback-8080', 'proxy'], ['= "/app"', 'default-web-80', 'proxy']]);
    expect(r.conf).toContain('server 10.244.0.7:9000 max_fails=0;');
    // Without one, unknown hosts reach the default backend, unlogged (enable-access-log-for-default-backend is off).
    const plain = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/', 'Prefix'))] })] });
    expect(locations(serverBlock(plain.conf, '_'))).toEqual([['"/"', 'upstream-default-backend', 'proxy']]);
    expect(serverBlock(plain.conf, '_')).toMatch(/location "\/" \{[^}]*access_log off;/);
    expect(serverBlock(plain.conf, '_')).toContain('listen 80 default_server reuseport backlog=4096 ;');
  });

  it('the oldest Ingress wins a host and path both claim; an empty host is the catch-all server', () => {
    const r = render({
      services: [...web.services, service('api', [{ port: 80 }])],
      slices: [...web.slices, slice('api', [{ name: '', port: 8081 }], [['10.244.1.5', true]])],
      ingresses: [
        ingress('first', { rules: [rule('a.example.com', path('/x', 'Exact', 'web'))] }),
        ingress('second', { rules: [rule('a.example.com', path('/x', 'Exact', 'api'), path('/y', 'Exact', 'api')), rule(undefined, path('/any', 'Exact', 'api'))] }),
      ],
    });
    expect(locations(serverBlock(r.conf, 'a.example.com')).slice(1)).toEqual([['= "/x"', 'default-web-80', 'proxy'], ['= "/y"', 'default-api-80', 'proxy']]);
    expect(locations(serverBlock(r.conf, '_'))).toEqual([['"/"', 'upstream-default-backend', 'proxy'], ['= "/any"', 'default-api-80', 'proxy']]);
  });

  it('TLS: a host\'s certificate from its Secret (wildcards too), the fake one when it does not cover the host; HTTP redirects with 308', () => {
    const certificates = { 'default/secure': { file: secureCert, sha: 'c0ffee', names: ['secure.example.com', '*.apps.example.com'], hasSAN: true, cn: 'secure.example.com' } };
    const r = render({
      ...web, certificates,
      ingresses: [
        ingress('secure', { tls: [{ hosts: ['secure.example.com', 'shop.apps.example.com'], secretName: 'secure' }], rules: [rule('secure.example.com', path('/', 'Prefix')), rule('shop.apps.example.com', path('/', 'Prefix'))] }),
        ingress('wrong', { tls: [{ hosts: ['wrong.example.com'], secretName: 'secure' }], rules: [rule('wrong.example.com', path('/', 'Prefix'))] }),
        ingress('plain', { rules: [rule('plain.example.com', path('/', 'Prefix'))] }),
      ],
    });
    // The content's SHA-1 beside the file: a Secret's new certificate changes the configuration, and the reload loads it.
    for (const host of ['secure.example.com', 'shop.apps.example.com']) expect(serverBlock(r.conf, host)).toContain(`# PEM sha: c0ffee\n        ssl_certificate     ${secureCert};`);
    // Not covered: the server keeps the fake (default) certificate, but it is a TLS host: it redirects.
    expect(serverBlock(r.conf, 'wrong.example.com')).not.toContain('ssl_certificate');
    expect(r.warnings).toEqual([
      'SSL certificate "default/secure" does not contain a Common Name or Subject Alternative Name for server "wrong.example.com": x509: certificate is valid for secure.example.com, *.apps.example.com, not wrong.example.com',
      'Using default certificate',
    ]);
    for (const host of ['secure.example.com', 'wrong.example.com']) expect(serverBlock(r.conf, host)).toContain('if ($scheme = http) {\n                return 308 https://$redirect_host$redirect_uri;');
    expect(serverBlock(r.conf, 'plain.example.com')).not.toContain('return 308');
    expect(r.conf).toContain(`# PEM sha: f00d\n    ssl_certificate     ${fake};`);
    expect(r.conf).toContain('listen 443 ssl http2;');
    expect(nginxTest(r.conf).code).toBe(0);
  });

  it('a certificate with only a Common Name does not cover its host (Go ignores the CN), as ingress-nginx reports', () => {
    const r = render({
      ...web, certificates: { 'default/cn-only': { file: secureCert, sha: 'c0ffee', names: [], hasSAN: false, cn: 'old.example.com' } },
      ingresses: [ingress('old', { tls: [{ hosts: ['old.example.com'], secretName: 'cn-only' }], rules: [rule('old.example.com', path('/', 'Prefix'))] })],
    });
    expect(r.warnings[0]).toMatch(/for server "old\.example\.com": x509: certificate relies on legacy Common Name field, use SANs instead$/);
  });

  it('rewrite-target: every path of the server becomes a case-insensitive regex, and the backend gets the rewritten path', () => {
    const ann = (a: Record<string, string>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [`nginx.ingress.kubernetes.io/${k}`, v]));
    const r = render({
      ...web,
      ingresses: [
        ingress('rewrite', { rules: [rule('a.example.com', path('/shop(/|$)(.*)', 'ImplementationSpecific'))] }, { annotations: ann({ 'rewrite-target': '/$2' }) }),
        ingress('plain', { rules: [rule('a.example.com', path('/static', 'Prefix')), rule('b.example.com', path('/static', 'Prefix'))] }),
      ],
    });
    const a = serverBlock(r.conf, 'a.example.com');
    // Another Ingress's Prefix path on the same host becomes regexes too: both its /p/ and its = /p.
    expect(locations(a).map(([m]) => m)).toEqual(['~* "^/"', '~* "^/shop(/|$)(.*)"', '~* "^/static"', '~* "^/static/"']);
    expect(a).toContain('rewrite "(?i)/shop(/|$)(.*)" "/$2" break;\n            proxy_pass http://default-web-80;');
    // The host's root location, which the rewriting Ingress made, carries its annotations too (as upstream).
    expect(a).toContain('rewrite "(?i)/" "/$2" break;\n            proxy_pass http://upstream-default-backend;');
    expect(a.match(/rewrite /g)).toHaveLength(2);
    expect(locations(serverBlock(r.conf, 'b.example.com')).map(([m]) => m)).toEqual(['"/"', '"/static/"', '= "/static"']);
    expect(nginxTest(r.conf).code).toBe(0);
  });

  it('ssl-redirect: "false" keeps a TLS host on HTTP; force-ssl-redirect redirects a host without TLS', () => {
    const ann = (k: string, v: string) => ({ annotations: { [`nginx.ingress.kubernetes.io/${k}`]: v } });
    const r = render({
      ...web,
      ingresses: [
        ingress('no-redirect', { tls: [{ hosts: ['a.example.com'] }], rules: [rule('a.example.com', path('/', 'Prefix'))] }, ann('ssl-redirect', 'false')),
        ingress('forced', { rules: [rule('b.example.com', path('/', 'Prefix'))] }, ann('force-ssl-redirect', 'true')),
        ingress('unparsable', { tls: [{ hosts: ['c.example.com'] }], rules: [rule('c.example.com', path('/', 'Prefix'))] }, ann('ssl-redirect', 'nope')),
      ],
    });
    expect(serverBlock(r.conf, 'a.example.com')).not.toContain('return 308');
    expect(serverBlock(r.conf, 'b.example.com')).toContain('return 308 https://$redirect_host$redirect_uri;');
    // A value Go's ParseBool rejects leaves the default: TLS hosts redirect.
    expect(serverBlock(r.conf, 'c.example.com')).toContain('return 308');
  });

  it('logs in ingress-nginx\'s upstreaminfo format, to the container\'s stdout', () => {
    const r = render({ ...web, ingresses: [] });
    expect(r.conf).toContain(`log_format upstreaminfo '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';`);
    expect(r.conf).toContain('access_log /dev/stdout upstreaminfo if=$loggable;');
    expect(nginxTest(r.conf).code).toBe(0);
  });

  it('a path cannot escape the configuration: quotes and backslashes are escaped, and nginx still accepts it', () => {
    const r = render({ ...web, ingresses: [ingress('web', { rules: [rule('a.example.com', path('/a"; return 200 "x', 'Exact'), path('/b\\', 'Exact'))] })] });
    expect(serverBlock(r.conf, 'a.example.com')).toContain('location = "/a\\"; return 200 \\"x" {');
    expect(nginxTest(r.conf).code).toBe(0);
  });
});
