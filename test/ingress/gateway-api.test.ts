// The Gateway API in a real netns lab, as a learner meets it on a kind cluster with a Gateway
// implementation: the `gateway-api` add-on (with the ingress-nginx controller it needs) applied
// with the real kubectl, a Gateway and HTTPRoutes, requests from the laptop outside the cluster
// through the Gateway's load-balancer address, and what kubectl shows of their status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonSteps } from '../../server/scenario/render.ts';
import { netdojo } from '../support/cli.ts';
import { labsUnavailable, tempHome } from '../support/env.ts';
import { backend, labDriver, service } from '../support/ingress.ts';

const why = labsUnavailable();
if (why) console.warn(`skipping the Gateway API lab test: ${why}`);

const APP = `${backend('blue')}---${service('blue')}---${backend('green')}---${service('green')}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web }
spec:
  gatewayClassName: nginx
  listeners:
    - { name: http, protocol: HTTP, port: 80, allowedRoutes: { namespaces: { from: All } } }
    - name: https
      protocol: HTTPS
      port: 443
      hostname: secure.example.com
      tls: { certificateRefs: [{ name: secure-tls }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop }
spec:
  parentRefs: [{ name: web, sectionName: http }]
  hostnames: [shop.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api }, headers: [{ name: X-Canary, value: "yes" }] }]
      backendRefs: [{ name: green, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs: [{ name: blue, port: 80 }]
    - matches: [{ path: { type: Exact, value: /split } }]
      backendRefs: [{ name: blue, port: 80, weight: 1 }, { name: green, port: 80, weight: 1 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: secure }
spec:
  parentRefs: [{ name: web, sectionName: https }]
  rules: [{ backendRefs: [{ name: green, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: broken }
spec:
  parentRefs: [{ name: web }]
  hostnames: [broken.example.com]
  rules: [{ backendRefs: [{ name: nowhere, port: 80 }] }]
`;

describe.skipIf(why)('the Gateway API in a netns lab', () => {
  const home = tempHome('netdojo-gateway-');
  let lab = '';
  let cert = '';
  let lbIP = '';
  const pods: Record<string, string> = {};

  const { exec, kubectl, until, tlsSecret, ...d } = labDriver(home.dir, () => lab);
  const curl = (requests: string[]) => d.curl('laptop', requests);
  const parentCondition = (route: string, type: string) =>
    `kubectl get httproute ${route} -o jsonpath='{.status.parents[0].conditions[?(@.type=="${type}")].status} {.status.parents[0].conditions[?(@.type=="${type}")].reason}'`;

  beforeAll(async () => {
    const up = await netdojo(home.dir, ['up', 'coredns-down', '--healthy', '--json']);
    expect(up.code, up.stderr).toBe(0);
    lab = JSON.parse(up.stdout).lab.id;
    // As a scenario's `addons: [gateway-api]` installs it: what it needs first, each waited for.
    for (const step of addonSteps(['gateway-api'], 'netns')) expect((await exec(step.on, step.run)).code, step.name).toBe(0);
    cert = await tlsSecret('secure-tls', 'secure.example.com');
    await kubectl(`apply -f - <<'EOF'\n${APP}\nEOF`);
    await kubectl('rollout status deployment/blue deployment/green --timeout=60s');
    for (const app of ['blue', 'green']) pods[app] = await kubectl(`get pods -l app=${app} -o jsonpath='{.items[0].metadata.name}'`);
    lbIP = await until('admin', "kubectl -n ingress-nginx get svc ingress-nginx-controller -o jsonpath='{.status.loadBalancer.ingress[0].ip}'", /^172\.18\.255\.\d+$/);
    await kubectl('wait --for=condition=Programmed gateway/web --timeout=60s');
  }, 300_000);

  afterAll(async () => {
    if (lab) await netdojo(home.dir, ['down', lab]);
    home.remove();
  });

  it('the GatewayClass nginx is accepted by the controller it names', async () => {
    const rows = await kubectl('get gatewayclass');
    expect(rows).toMatch(/^NAME\s+CONTROLLER\s+ACCEPTED\s+AGE$/m);
    expect(rows).toMatch(/^nginx\s+k8s\.io\/ingress-nginx\s+True\s+\S+$/m);
    expect(await kubectl("get gatewayclass nginx -o jsonpath='{.status.conditions[?(@.type==\"Accepted\")].reason} {.status.conditions[0].observedGeneration}'")).toBe('Accepted 1');
  });

  it('kubectl get gateway shows the load-balancer address and Programmed, with upstream\'s columns', async () => {
    const rows = await kubectl('get gateway');
    expect(rows).toMatch(/^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE$/m);
    expect(rows).toMatch(new RegExp(`^web\\s+nginx\\s+${lbIP.replace(/\./g, '\\.')}\\s+True\\s+\\S+$`, 'm'));
    // Each listener counts the routes its allowedRoutes and their parentRefs select, whatever their hostnames: shop
    // and broken on http, secure and broken (which names no section) on https.
    expect(await kubectl("get gateway web -o jsonpath='{range .status.listeners[*]}{.name}={.attachedRoutes} {.conditions[?(@.type==\"Programmed\")].status} {end}'"))
      .toBe('http=2 True https=2 True');
  });

  it('routes from the laptop through the address by host, path and header, and splits by weight', async () => {
    const shop = `-H 'Host: shop.example.com' http://${lbIP}`;
    expect(await curl([`${shop}/api/orders`, `-H 'X-Canary: yes' ${shop}/api/orders`, `-H 'X-Canary: no' ${shop}/api`, `${shop}/apiary`, `-H 'Host: other.example.com' http://${lbIP}/api`]))
      .toEqual([`200 ${pods.blue}`, `200 ${pods.green}`, `200 ${pods.blue}`, expect.stringMatching(/^404 /), expect.stringMatching(/^404 /)]);
    const split = await curl(Array.from({ length: 24 }, () => `${shop}/split`));
    expect(new Set(split)).toEqual(new Set([`200 ${pods.blue}`, `200 ${pods.green}`]));
    // A weight of 0 takes a backend out of the split: its upstream is left with blue's endpoint, unweighted.
    await kubectl(`patch httproute shop --type=json -p '[{"op":"replace","path":"/spec/rules/2/backendRefs/1/weight","value":0}]'`);
    await until('admin', 'kubectl exec -n ingress-nginx deploy/ingress-nginx-controller -- cat /etc/nginx/nginx.conf | grep -A3 "upstream httproute-default-shop-rule2"', /\{\n\s+server \S+ max_fails=0;\n\s+keepalive/);
    expect(new Set(await curl(Array.from({ length: 12 }, () => `${shop}/split`)))).toEqual(new Set([`200 ${pods.blue}`]));
  });

  it('terminates TLS on the HTTPS listener with its certificateRef\'s Secret', async () => {
    const r = await exec('laptop', `curl -sS -m5 --cacert ${cert} --resolve secure.example.com:443:${lbIP} https://secure.example.com/`);
    expect(r.out).toBe(pods.green);
  });

  it('an accepted route\'s status names the controller, with Accepted and ResolvedRefs', async () => {
    const yaml = await kubectl('get httproute shop -o yaml');
    expect(yaml).toMatch(/controllerName: k8s\.io\/ingress-nginx/);
    expect(yaml).toMatch(/parentRef:\n\s+group: gateway\.networking\.k8s\.io\n\s+kind: Gateway\n\s+name: web\n\s+sectionName: http/);
    expect(await exec('admin', parentCondition('shop', 'Accepted')).then((r) => r.out)).toBe('True Accepted');
    expect(await exec('admin', parentCondition('shop', 'ResolvedRefs')).then((r) => r.out)).toBe('True ResolvedRefs');
  });

  it('a route to a missing Service is accepted with ResolvedRefs False BackendNotFound, and answers 500', async () => {
    expect(await until('admin', parentCondition('broken', 'ResolvedRefs'), /^False BackendNotFound$/)).toBe('False BackendNotFound');
    expect(await kubectl('describe httproute broken')).toMatch(/Message:\s+Service default\/nowhere not found\s+Observed Generation:\s+1\s+Reason:\s+BackendNotFound/);
    expect(await curl([`-H 'Host: broken.example.com' http://${lbIP}/`])).toEqual([expect.stringMatching(/^500 /)]);
    // Once the Service exists, the route resolves.
    await kubectl('create service clusterip nowhere --tcp=80:9376 && kubectl set selector svc nowhere app=green');
    expect(await until('admin', parentCondition('broken', 'ResolvedRefs'), /^True ResolvedRefs$/)).toBe('True ResolvedRefs');
    expect(await until('laptop', `curl -sS -m5 -H 'Host: broken.example.com' http://${lbIP}/`, new RegExp(`^${pods.green}$`))).toBe(pods.green);
  });

  it('a parentRef naming no listener is refused with NoMatchingParent', async () => {
    await kubectl(`apply -f - <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: astray }
spec:
  parentRefs: [{ name: web, sectionName: grpc }]
  rules: [{ backendRefs: [{ name: blue, port: 80 }] }]
EOF`);
    expect(await until('admin', parentCondition('astray', 'Accepted'), /^False /)).toBe('False NoMatchingParent');
  });

  it('writes a status only when it changes: conditions keep their time, so status writes do not feed on themselves', async () => {
    const logs = await kubectl('logs -n ingress-nginx deploy/ingress-nginx-controller');
    const writes = (kind: string, name: string) => logs.split('\n').filter((l) => l.includes(`"updating ${kind} status" namespace="default" name="${name}"`)).length;
    // The Gateway's status changed with each route attached to it and each address; a loop would write it on every sync.
    expect(writes('Gateway', 'web')).toBeGreaterThan(0);
    expect(writes('Gateway', 'web')).toBeLessThan(12);
    expect(writes('HTTPRoute', 'shop')).toBeLessThan(5);
    const before = await kubectl("get gateway web -o jsonpath='{.metadata.resourceVersion}'");
    // A change elsewhere makes the controller sync again; the Gateway's status holds, so it is not written.
    await kubectl('scale deployment/blue --replicas=2 && kubectl rollout status deployment/blue --timeout=60s');
    await until('admin', `kubectl exec -n ingress-nginx deploy/ingress-nginx-controller -- cat /etc/nginx/nginx.conf | grep -A4 "upstream httproute-default-shop-rule1"`, /server \S+ max_fails=0;\n\s+server \S+ max_fails=0;/);
    expect(await kubectl("get gateway web -o jsonpath='{.metadata.resourceVersion}'")).toBe(before);
  });
});
