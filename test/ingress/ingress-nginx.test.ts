// The ingress-nginx add-on in a real netns lab, driven as a learner drives it: a lab started with
// the CLI, manifests applied with the real kubectl, requests made with curl from a pod through
// the controller's Service (and its pod IP), and what kubectl shows about it.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonSteps } from '../../server/scenario/render.ts';
import { netdojo } from '../support/cli.ts';
import { labsUnavailable, tempHome } from '../support/env.ts';
import { backend, labDriver, service } from '../support/ingress.ts';

const why = labsUnavailable() ?? (spawnSync('sh', ['-c', 'command -v nginx || test -x /usr/sbin/nginx']).status === 0 ? undefined : 'the ingress controller runs the host\'s nginx: install nginx-light');
if (why) console.warn(`skipping the ingress-nginx lab test: ${why}`);

// Two backends that answer every path with their pod name, and the Ingresses that route to them.
const APP = `${backend('shop')}---${service('shop')}---${backend('api')}---
apiVersion: v1
kind: Service
metadata: { name: api }
spec: { selector: { app: api }, ports: [{ name: http, port: 8080, targetPort: 9376 }] }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  ingressClassName: nginx
  rules:
    - host: shop.example.com
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: shop, port: { number: 80 } } } }
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { name: http } } } }
          - { path: /status, pathType: Exact, backend: { service: { name: api, port: { number: 8080 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: secure }
spec:
  ingressClassName: nginx
  tls: [{ hosts: [secure.example.com], secretName: secure-tls }]
  rules:
    - host: secure.example.com
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: api, port: { number: 8080 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: rewrite, annotations: { nginx.ingress.kubernetes.io/rewrite-target: /$2 } }
spec:
  ingressClassName: nginx
  rules:
    - host: rewrite.example.com
      http:
        paths:
          - { path: /web(/|$)(.*), pathType: ImplementationSpecific, backend: { service: { name: web, port: { number: 80 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: elsewhere }
spec:
  ingressClassName: traefik
  rules:
    - host: traefik.example.com
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: shop, port: { number: 80 } } } }
`;

describe.skipIf(why)('ingress-nginx in a netns lab', () => {
  const home = tempHome('netdojo-ingress-');
  let lab = '';
  let cert = '';
  let controllerIP = '';
  let lbIP = '';
  let podIP = '';
  let clientIP = '';
  let webPods: string[] = [];
  const pods: Record<string, string> = {};

  const { exec, kubectl, until, tlsSecret, ...d } = labDriver(home.dir, () => lab);
  const curl = (requests: string[]) => d.curl('default/client-worker', requests);
  const RELOADS = 'kubectl logs -n ingress-nginx deploy/ingress-nginx-controller | grep -c "Backend successfully reloaded"';
  const reloadCount = async () => (await exec('admin', RELOADS)).out;

  beforeAll(async () => {
    const up = await netdojo(home.dir, ['up', 'coredns-down', '--healthy', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const facts = JSON.parse(up.stdout).lab;
    lab = facts.id;
    clientIP = facts.pods.find((p: { target: string }) => p.target === 'default/client-worker').ip;
    webPods = facts.pods.filter((p: { app: string }) => p.app === 'web').map((p: { target: string }) => p.target.split('/')[1]);
    for (const step of addonSteps(['ingress-nginx'], 'netns')) expect((await exec(step.on, step.run)).code, step.name).toBe(0);
    cert = await tlsSecret('secure-tls', 'secure.example.com');
    await kubectl(`apply -f - <<'EOF'\n${APP}\nEOF`);
    await kubectl('rollout status deployment/shop deployment/api --timeout=60s');
    for (const app of ['shop', 'api']) pods[app] = await kubectl(`get pods -l app=${app} -o jsonpath='{.items[0].metadata.name}'`);
    controllerIP = await kubectl('-n ingress-nginx get svc ingress-nginx-controller -o jsonpath={.spec.clusterIP}');
    lbIP = await until('admin', "kubectl -n ingress-nginx get svc ingress-nginx-controller -o jsonpath='{.status.loadBalancer.ingress[0].ip}'", /^172\.18\.255\.\d+$/);
    podIP = await kubectl('-n ingress-nginx get pods -l app.kubernetes.io/component=controller -o jsonpath={.items[0].status.podIP}');
    // The controller has taken the Ingresses on once the Exact path answers from its backend.
    await until('default/client-worker', `curl -s -m2 -H 'Host: shop.example.com' http://${controllerIP}/status`, new RegExp(pods.api));
  }, 240_000);

  afterAll(async () => {
    if (lab) await netdojo(home.dir, ['down', lab]);
    home.remove();
  });

  it('routes by host and path, through the Service and the pod IP: longest prefix wins, Prefix matches whole segments, Exact only itself', async () => {
    for (const ip of [controllerIP, podIP]) {
      const host = `-H 'Host: shop.example.com' http://${ip}`;
      expect(await curl([`${host}/`, `${host}/cart/items`, `${host}/api`, `${host}/api/orders`, `${host}/apiary`, `${host}/status`, `${host}/status/more`])).toEqual([
        `200 ${pods.shop}`, `200 ${pods.shop}`, `200 ${pods.api}`, `200 ${pods.api}`, `200 ${pods.shop}`, `200 ${pods.api}`, `200 ${pods.shop}`,
      ]);
    }
  });

  it('rewrite-target: the path matches as a regular expression and the backend gets the rewritten one', async () => {
    const host = `-H 'Host: rewrite.example.com' http://${controllerIP}`;
    const [rewritten, unmatched] = await curl([`${host}/web/hostname`, `${host}/hostname`]);
    expect(webPods.map((p) => `200 ${p}`)).toContain(rewritten);
    expect(unmatched).toMatch(/^404 <html> <head><title>404 Not Found<\/title>/);
  });

  it('answers an unknown host, and a host only another class\'s Ingress names, with the default backend\'s 404', async () => {
    const [unknown, traefik] = await curl([`-H 'Host: nowhere.example.com' http://${controllerIP}/`, `-H 'Host: traefik.example.com' http://${controllerIP}/`]);
    for (const answer of [unknown, traefik]) expect(answer).toBe('404 <html> <head><title>404 Not Found</title></head> <body> <center><h1>404 Not Found</h1></center> <hr><center>nginx</center> </body> </html>');
  });

  it('terminates TLS with the Secret\'s certificate by SNI, the fake certificate otherwise, and redirects HTTP to HTTPS for a TLS host', async () => {
    const secure = await exec('default/client-worker', [
      `curl -sS -m5 --cacert ${cert} --resolve secure.example.com:443:${controllerIP} https://secure.example.com/`,
      `curl -sS -m5 -k -o /dev/null -v --resolve other.example.com:443:${controllerIP} https://other.example.com/ 2>&1 | grep -E 'subject:|^< HTTP'`,
      `curl -sS -m5 -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: secure.example.com' http://${controllerIP}/cart/`,
    ].join('; echo; '));
    expect(secure.out.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual([
      pods.api,
      '*  subject: O=Acme Co; CN=Kubernetes Ingress Controller Fake Certificate',
      '< HTTP/2 404',
      '308 https://secure.example.com/cart',
    ]);
  });

  it('serves a renewed certificate once its Secret changes', async () => {
    const renewed = await tlsSecret('secure-tls', 'secure.example.com', 'renewed');
    // curl trusts only the renewed certificate: it succeeds once nginx serves it.
    const served = await until('default/client-worker', `curl -sS -m5 --cacert ${renewed} --resolve secure.example.com:443:${controllerIP} https://secure.example.com/ 2>&1`, new RegExp(`^${pods.api}$`));
    expect(served).toBe(pods.api);
  });

  it('reaches the laptop outside the cluster through the controller\'s LoadBalancer address, HTTP and HTTPS', async () => {
    const host = `-H 'Host: shop.example.com' http://${lbIP}`;
    const r = await exec('laptop', `curl -sS -m5 ${host}/api/x; echo; curl -sS -m5 -k --resolve secure.example.com:443:${lbIP} https://secure.example.com/`);
    expect(r.out.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual([pods.api, pods.api]);
  });

  it('kubectl get ingress shows the controller\'s load-balancer address for its own Ingresses only', async () => {
    const rows = await until('admin', 'kubectl get ingress --no-headers', new RegExp(`^secure\\s+nginx\\s+secure\\.example\\.com\\s+${lbIP.replace(/\./g, '\\.')}\\s+80, 443\\s`, 'm'));
    expect(rows).toMatch(new RegExp(`^shop\\s+nginx\\s+shop\\.example\\.com\\s+${lbIP.replace(/\./g, '\\.')}\\s+80\\s`, 'm'));
    expect(rows).toMatch(/^elsewhere\s+traefik\s+traefik\.example\.com\s+80\s/m);
  });

  it('kubectl describe ingress shows its backends\' endpoints and the controller\'s Sync events', async () => {
    const d = await kubectl('describe ingress shop');
    expect(d).toMatch(new RegExp(`Address:\\s+${lbIP.replace(/\./g, '\\.')}`));
    expect(d).toMatch(/Ingress Class:\s+nginx/);
    expect(d).toMatch(/\/api\s+api:http \(10\.244\.\d+\.\d+:9376\)/);
    expect(d).toMatch(/Normal\s+Sync\s+.*nginx-ingress-controller\s+Scheduled for sync/);
  });

  it('kubectl logs shows each request in ingress-nginx\'s upstream log format, with the endpoint it went to', async () => {
    await curl([`-A probe-for-logs -H 'Host: shop.example.com' http://${controllerIP}/api/logged`]);
    const apiIP = await kubectl(`get pod ${pods.api} -o jsonpath={.status.podIP}`);
    const line = await until('admin', 'kubectl logs -n ingress-nginx deploy/ingress-nginx-controller | grep probe-for-logs', /probe-for-logs/);
    expect(line).toMatch(new RegExp(
      `^${clientIP.replace(/\./g, '\\.')} - - \\[[^\\]]+\\] "GET /api/logged HTTP/1\\.1" 200 \\d+ "-" "probe-for-logs" \\d+ \\d+\\.\\d{3} \\[default-api-http\\] \\[\\] ${apiIP.replace(/\./g, '\\.')}:9376 \\d+ \\d+\\.\\d{3} 200 [0-9a-f]{32}$`));
  });

  it('follows endpoints and Ingress changes with reloads that drop no request in flight', async () => {
    // Requests keep coming while an Ingress changes twice and a backend is scaled.
    const load = exec('default/client-worker', `for i in $(seq 150); do curl -s -m5 -o /dev/null -w '%{http_code}\\n' -H 'Host: shop.example.com' http://${controllerIP}/; done | sort | uniq -c`);
    await kubectl(`patch ingress shop --type=json -p '[{"op":"add","path":"/spec/rules/0/http/paths/-","value":{"path":"/new","pathType":"Exact","backend":{"service":{"name":"api","port":{"number":8080}}}}}]'`);
    await until('default/client-worker', `curl -s -m2 -H 'Host: shop.example.com' http://${controllerIP}/new`, new RegExp(pods.api));
    const reloads = await reloadCount();
    await kubectl('scale deployment/shop --replicas=2');
    await until('admin', `kubectl get endpointslices -l kubernetes.io/service-name=shop -o jsonpath='{.items[*].endpoints[?(@.conditions.ready==true)].addresses[*]}'`, /\S+ \S+/);
    await until('admin', RELOADS, new RegExp(`^(?!${reloads}$)\\d+$`));
    expect((await load).out).toMatch(/^\s*150 200$/);
    // A backend without ready endpoints answers 503, as ingress-nginx's balancer does.
    await kubectl('scale deployment/api --replicas=0');
    await until('default/client-worker', `curl -s -m2 -o /dev/null -w '%{http_code}' -H 'Host: shop.example.com' http://${controllerIP}/api`, /^503$/);
    expect(await kubectl('logs -n ingress-nginx deploy/ingress-nginx-controller')).toContain('"Configuration changes detected, backend reload required"');
  });
});
