# The `registry.k8s.io/ingress-nginx/controller` image's /nginx-ingress-controller in the netns lab.
# As the real controller does, from inside its pod: watches IngressClasses, Ingresses, Services,
# EndpointSlices and Secrets through the Kubernetes API (in-cluster configuration, see _kube.py),
# renders nginx.conf (_ingress_conf.py), runs the real nginx and reloads it (SIGHUP, as
# `nginx -s reload`: old workers finish their connections) on every change that alters the
# configuration; records Sync and RELOAD events, publishes the address in each Ingress's status,
# and answers /healthz on the healthz port. Log lines are klog's, as the controller's; nginx
# writes its access log (ingress-nginx's upstreaminfo format) to the container's stdout.
#
# Beside Ingresses, the same process and nginx implement the Gateway API, which the real
# ingress-nginx does not: GatewayClasses whose controllerName is its --controller-class, their
# Gateways and the HTTPRoutes attached to them (with ReferenceGrants and Namespaces), whose status
# it writes (_gateway.py) and whose routes it renders beside the Ingresses (_gateway_conf.py).
#
# Not done here: the admission webhook, leader election (there is no Lease API in the lab; one
# replica updates status), annotations other than the rewrite and SSL redirect ones, the ConfigMap's
# settings, TCP/UDP services, metrics.
import _sha1
import _signal
import _thread
import binascii
import os
import sys
import time

import _gateway as gateway
import _gateway_conf
import _ingress_conf as conf
import serving
from _kube import ApiError, Client, dumps

RELEASE = "v1.15.1"
NGINX_CONF = "/etc/nginx/nginx.conf"
SSL_DIR = "/etc/nginx/ssl"
RUN_DIR = "/var/lib/nginx"
FAKE_CERT = f"{SSL_DIR}/default-fake-certificate.pem"
COMPONENT = "nginx-ingress-controller"
# Changes that arrive together (a `kubectl apply` of several objects) make one reload.
SYNC_DELAY_SECONDS = 0.1

PID = os.getpid()

# The flags the controller takes (cmd/nginx/flags.go), with their defaults; those this stand-in
# does not act on are accepted and reported once at start.
FLAGS = {
    "controller-class": "k8s.io/ingress-nginx", "ingress-class": "nginx", "watch-ingress-without-class": "false",
    "publish-service": "", "publish-status-address": "", "default-ssl-certificate": "", "watch-namespace": "",
    "update-status": "true",
}
BOOLEAN = {"watch-ingress-without-class", "update-status"}
NO_EFFECT = {"election-id", "configmap", "validating-webhook", "validating-webhook-certificate", "validating-webhook-key", "tcp-services-configmap",
             "udp-services-configmap", "enable-metrics", "v", "report-node-internal-ip-address", "post-shutdown-grace-period",
             "shutdown-grace-period", "enable-ssl-passthrough", "default-backend-service", "enable-topology-aware-routing"}


# ---- klog -----------------------------------------------------------------------------------------

class Raw(str):
    """A field value klog prints as it is (a JSON value)."""


def klog(severity, where, message, **fields):
    """A klog line on stderr: Lmmdd hh:mm:ss.uuuuuu pid file:line] message key="value"..."""
    now = time.time()
    t = time.localtime(now)
    head = "%s%02d%02d %02d:%02d:%02d.%06d %7d %s] " % (severity, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(now % 1 * 1e6), PID, where)
    extra = "".join(f" {k}={v if isinstance(v, (Raw, int)) else serving.json_string(str(v))}" for k, v in fields.items())
    sys.stderr.write(head + message + extra + "\n")
    sys.stderr.flush()


def info(where, message, **fields):
    klog("I", where, serving.json_string(message), **fields)


def warn(where, message):
    klog("W", where, message)


def fatal(where, message):
    klog("F", where, message)
    sys.exit(255)


def rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_flags(argv):
    """pflag: --name=value or --name value; a boolean flag alone means true. Returns the values
    and the flags given that have no effect here."""
    values, ignored = dict(FLAGS), []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("-") or arg in ("-", "--"):
            fatal("main.go:64", f"unexpected argument: {arg}")
        name, eq, value = arg.lstrip("-").partition("=")
        if name not in FLAGS and name not in NO_EFFECT:
            fatal("main.go:64", f"unknown flag: --{name}")
        if not eq:
            value = "true" if name in BOOLEAN or not args or args[0].startswith("-") else args.pop(0)
        if name in FLAGS:
            values[name] = value
        else:
            ignored.append(name)
    return values, ignored


# ---- certificates -----------------------------------------------------------------------------------

def make_fake_certificate():
    """GetFakeSSLCert: a self-signed RSA 2048 certificate for ingress.local, valid a year, started
    at once in the background (key generation takes a while); returns its pid."""
    os.makedirs(SSL_DIR, exist_ok=True)
    key = f"{SSL_DIR}/.fake-key.pem"
    script = (f'openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout "{key}" -out "{FAKE_CERT}.tmp" '
              '-subj "/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate" -addext "subjectAltName=DNS:ingress.local" '
              '-addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=serverAuth" 2>/dev/null '
              f'&& cat "{key}" >> "{FAKE_CERT}.tmp" && rm -f "{key}" && mv "{FAKE_CERT}.tmp" "{FAKE_CERT}"')
    return os.posix_spawnp("sh", ["sh", "-c", script], os.environ)


def pem_sha(content):
    return _sha1.sha1(content).hexdigest()


def certificate_names(pem_file, content):
    """CreateSSLCert's reading of a Secret's certificate: its subjectAltName DNS names and CN, or an
    error when the certificate cannot be read or the key is not its key."""
    code, out = serving.run_captured(["openssl", "x509", "-in", pem_file, "-noout", "-subject", "-nameopt", "RFC2253", "-ext", "subjectAltName", "-pubkey"], stderr=False)
    if code != 0:
        return {"error": "x509: malformed certificate"}
    text = out.decode(errors="replace")
    cn = next((part[3:] for line in text.splitlines() if line.startswith("subject=") for part in line[8:].split(",") if part.startswith("CN=")), "")
    has_san = "X509v3 Subject Alternative Name" in text
    names = [n.strip()[4:] for line in text.splitlines() if "DNS:" in line for n in line.split(",") if n.strip().startswith("DNS:")]
    code, key = serving.run_captured(["openssl", "pkey", "-in", pem_file, "-pubout"], stderr=False)
    public = text[text.find("-----BEGIN PUBLIC KEY-----"):]
    if code != 0 or key.decode(errors="replace").strip() != public.strip():
        return {"error": "tls: private key does not match public key"}
    return {"file": pem_file, "sha": pem_sha(content), "names": names, "hasSAN": has_san, "cn": cn}


# ---- the controller -----------------------------------------------------------------------------

KINDS = {
    "IngressClass": "/apis/networking.k8s.io/v1/ingressclasses",
    "Ingress": "/apis/networking.k8s.io/v1/ingresses",
    "Service": "/api/v1/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/endpointslices",
    "Secret": "/api/v1/secrets",
    "Namespace": "/api/v1/namespaces",
    "GatewayClass": "/apis/gateway.networking.k8s.io/v1/gatewayclasses",
    "Gateway": "/apis/gateway.networking.k8s.io/v1/gateways",
    "HTTPRoute": "/apis/gateway.networking.k8s.io/v1/httproutes",
    "ReferenceGrant": "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
}
CLUSTER_SCOPED = {"IngressClass", "Namespace", "GatewayClass"}
# The Gateway API's kinds are served once its CRDs are installed, which may come after the
# controller starts: until then their lists are empty, and asked for again every few seconds.
GATEWAY_KINDS = {"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"}
CRD_POLL_SECONDS = 2
STATUS_PATHS = {"GatewayClass": "gatewayclasses", "Gateway": "gateways", "HTTPRoute": "httproutes"}


class Controller:
    def __init__(self, client, flags):
        self.client, self.flags = client, flags
        self.class_flags = {"controller_class": flags["controller-class"], "ingress_class": flags["ingress-class"],
                            "watch_without_class": flags["watch-ingress-without-class"] == "true"}
        self.loop = serving.Loop()
        self.store = {kind: {} for kind in KINDS}
        self.listed = set()
        self.fake_cert_pid = None
        self.fake_cert = None  # {"file", "sha"} once made
        self.nginx_pid = None
        self.pod = None
        self.sync_timer = None
        self.config = None
        self.warned = set()
        self.certs = {}  # secret key -> (content, reading)
        self.events = {}  # aggregation key -> (event name, count)
        self.healthy = False
        self.stopping = False

    # -- informers -----------------------------------------------------------------------------
    def informer(self, kind, path):
        """client-go's reflector, in a thread: list, watch from there, list again when the watch
        expires; every result is handed to the loop's thread."""
        rv, delay = None, 1
        while True:
            try:
                if rv is None:
                    listed = self.client.get(path)
                    rv = listed["metadata"]["resourceVersion"]
                    self.loop.soon(lambda items=listed["items"]: self.on_list(kind, items))
                for event in self.client.watch(path, rv):
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            rv = None
                        break
                    rv = conf.meta(obj, "resourceVersion") or rv
                    if event.get("type") != "BOOKMARK":
                        self.loop.soon(lambda t=event["type"], obj=obj: self.on_event(kind, t, obj))
                delay = 1
            except (OSError, ApiError, ValueError, KeyError) as e:
                status = e.status if isinstance(e, ApiError) else None
                if status == 404 and kind in GATEWAY_KINDS and rv is None:
                    if kind not in self.listed:
                        self.loop.soon(lambda: self.on_list(kind, []))
                    time.sleep(CRD_POLL_SECONDS)
                    continue
                if status == 410:
                    rv = None  # the resourceVersion is too old to watch from: list again
                self.loop.soon(lambda e=e: warn("reflector.go:569", f"failed to watch *v1.{kind}: {e}"))
                time.sleep(delay)
                delay = min(delay * 2, 30)

    def classes(self):
        return conf.our_classes(self.store["IngressClass"].values(), self.class_flags)

    def ingress_class(self, ing):
        return conf.ingress_class(ing, self.classes(), self.class_flags)

    def on_list(self, kind, items):
        before = dict(self.store["Ingress"]) if kind == "Ingress" else None
        self.store[kind] = {conf.key(o): o for o in items}
        if kind == "IngressClass" and kind not in self.listed:
            for other in KINDS:
                if other != kind:
                    self.start_informer(other)
        self.listed.add(kind)
        if before is not None:
            for k, ing in self.store["Ingress"].items():
                if before.get(k) != ing:
                    self.ingress_changed(before.get(k), ing)
        self.changed()

    def on_event(self, kind, type_, obj):
        k = conf.key(obj)
        old = self.store[kind].get(k)
        if type_ == "DELETED":
            self.store[kind].pop(k, None)
        else:
            self.store[kind][k] = obj
            if kind == "Ingress":
                self.ingress_changed(old, obj)
        self.changed()

    def ingress_changed(self, old, cur):
        """The store's Ingress handlers: what they log when an Ingress appears, or changes so that
        it becomes ours or stops being ours (its class, judged against the classes as they are
        now), and a Sync event for every Ingress the controller takes on or that changes while it
        is ours."""
        cls = self.ingress_class(cur)
        if old is None:
            if cls is None:
                info("store.go:438", "Ignoring ingress because of error while validating ingress class", ingress=conf.key(cur),
                     error="ingress does not contain a valid IngressClass")
                return
            info("store.go:440", "Found valid IngressClass", ingress=conf.key(cur), ingressclass=cls)
        else:
            was = self.ingress_class(old)
            if was is not None and cls is None:
                info("store.go:476", "removing ingress because of unknown ingressclass", ingress=conf.key(cur))
                return
            if cls is None:
                return
            if was is None:
                info("store.go:469", "creating ingress", ingress=conf.key(cur), ingressclass=cls)
        self.event(cur, "networking.k8s.io/v1", "Ingress", "Normal", "Sync", "Scheduled for sync")

    def changed(self):
        if self.listed != set(KINDS) or self.sync_timer is not None:
            return
        self.sync_timer = self.loop.later(SYNC_DELAY_SECONDS, self.sync)

    # -- events ----------------------------------------------------------------------------------
    def event(self, obj, api_version, kind, type_, reason, message):
        """client-go's recorder with its correlator: a repeat of the same event bumps its count."""
        ns = conf.meta(obj, "namespace") or "default"
        ref = {"kind": kind, "namespace": ns, "name": conf.meta(obj, "name"), "uid": conf.meta(obj, "uid"),
               "apiVersion": api_version, "resourceVersion": conf.meta(obj, "resourceVersion")}
        agg = (kind, ns, ref["name"], ref["uid"], type_, reason, message)
        now = rfc3339()
        known = self.events.get(agg)
        try:
            if known:
                name, count = known
                self.client.request("PATCH", f"/api/v1/namespaces/{ns}/events/{name}", {"count": count + 1, "lastTimestamp": now},
                                    "application/strategic-merge-patch+json")
                self.events[agg] = (name, count + 1)
            else:
                name = f"{ref['name']}.{time.time_ns():x}"
                self.client.request("POST", f"/api/v1/namespaces/{ns}/events", {
                    "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                    "involvedObject": ref, "reason": reason, "message": message, "source": {"component": COMPONENT},
                    "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_, "reportingComponent": COMPONENT, "reportingInstance": ""})
                self.events[agg] = (name, 1)
        except (OSError, ApiError) as e:
            klog("E", "event.go:368", f"Server rejected event (will not retry!): {e}")
            return
        info_line = (f'Event(v1.ObjectReference{{Kind:"{kind}", Namespace:"{ns}", Name:"{ref["name"]}", UID:"{ref["uid"]}", '
                     f'APIVersion:"{api_version}", ResourceVersion:"{ref["resourceVersion"]}", FieldPath:""}}): '
                     f"type: '{type_}' reason: '{reason}' {message}")
        klog("I", "event.go:377", info_line)

    # -- certificates ------------------------------------------------------------------------------
    def certificates(self, wanted):
        """The TLS Secrets named ("namespace/name"), as PEM files of certificate and key, read
        again only when a Secret's content changes."""
        wanted = set(wanted)
        if self.flags["default-ssl-certificate"]:
            wanted.add(self.flags["default-ssl-certificate"])
        usable = {}
        for secret_key in sorted(wanted):
            secret = self.store["Secret"].get(secret_key)
            if secret is None:
                continue  # the configuration says so, for each host that names it
            data = secret.get("data") or {}
            if "tls.crt" not in data or "tls.key" not in data:
                self.warn_once(f"Error obtaining X.509 certificate: key 'tls.crt' or 'tls.key' missing from secret {secret_key}")
                continue
            content = binascii.a2b_base64(data["tls.crt"]) + b"\n" + binascii.a2b_base64(data["tls.key"])
            cached = self.certs.get(secret_key)
            if not cached or cached[0] != content:
                pem = f"{SSL_DIR}/{secret_key.replace('/', '-')}.pem"
                with open(pem + ".tmp", "wb") as f:
                    f.write(content)
                os.rename(pem + ".tmp", pem)
                cached = (content, certificate_names(pem, content))
                self.certs[secret_key] = cached
            if "error" in cached[1]:
                self.warn_once(f"Error obtaining X.509 certificate: unexpected error creating SSL Cert: {cached[1]['error']}")
                continue
            usable[secret_key] = cached[1]
        return usable

    def warn_once(self, message):
        if message not in self.warned:
            self.warned.add(message)
            warn("controller.go:1230", message)

    # -- nginx -------------------------------------------------------------------------------------
    def start_nginx(self):
        info("nginx.go:319", "Starting NGINX process")
        self.nginx_pid = os.posix_spawnp("nginx", ["nginx", "-c", NGINX_CONF], os.environ,
                                          setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))

    def reload(self, text):
        """OnUpdate: test the new configuration, then put it in place and reload nginx."""
        test = f"{RUN_DIR}/nginx-cfg.conf"
        with open(test, "w") as f:
            f.write(text)
        code, out = serving.run_captured(["nginx", "-t", "-c", test])
        if code != 0:
            klog("E", "controller.go:205", "Unexpected failure reloading the backend:\n" + "-" * 79 + f"\nError: exit status {code}\n"
                 + out.decode(errors="replace") + "\n" + "-" * 79)
            if self.pod:
                self.event(self.pod, "v1", "Pod", "Warning", "RELOAD", f"Error reloading NGINX: exit status {code}")
            return False
        os.remove(test)
        with open(NGINX_CONF, "w") as f:
            f.write(text)
        if self.nginx_pid is None:
            self.start_nginx()
        else:
            os.kill(self.nginx_pid, _signal.SIGHUP)
        return True

    def sync(self):
        """syncIngress: the configuration the objects make; nginx reloads only when it changes."""
        self.sync_timer = None
        if self.fake_cert is None:
            self.sync_timer = self.loop.later(0.05, self.sync)
            return
        ingresses = conf.served_ingresses(self.store["Ingress"].values(), self.store["IngressClass"].values(), self.class_flags)
        world = {"classes": list(self.store["GatewayClass"].values()), "gateways": list(self.store["Gateway"].values()),
                 "routes": list(self.store["HTTPRoute"].values()), "grants": list(self.store["ReferenceGrant"].values()),
                 "services": list(self.store["Service"].values()), "namespaces": list(self.store["Namespace"].values())}
        certificates = self.certificates({f"{conf.meta(i, 'namespace')}/{t['secretName']}" for i in ingresses for t in (i.get("spec") or {}).get("tls") or [] if t.get("secretName")}
                                         | gateway.certificate_refs(world["gateways"], world["grants"]))
        statuses, matches = gateway.resolve(world, self.flags["controller-class"], [a["ip"] for a in self.load_balancer_addresses() if "ip" in a],
                                            certificates, rfc3339())
        services, slices = self.store["Service"].values(), self.store["EndpointSlice"].values()
        servers, upstreams, warnings = conf.build(ingresses, services, slices, certificates)
        servers, upstreams = _gateway_conf.add_routes(servers, upstreams, matches, services, slices, certificates, warnings)
        for w in warnings:
            self.warn_once(w)
        default = certificates.get(self.flags["default-ssl-certificate"], self.fake_cert)
        text = conf.render(servers, upstreams, {"runDir": RUN_DIR, "defaultCertificate": default})
        if text != self.config:
            info("controller.go:193", "Configuration changes detected, backend reload required")
            if self.reload(text):
                self.config = text
                info("controller.go:213", "Backend successfully reloaded")
                if self.pod:
                    self.event(self.pod, "v1", "Pod", "Normal", "RELOAD", "NGINX reload triggered due to a change in configuration")
        self.healthy = self.nginx_pid is not None
        if self.flags["update-status"] == "true":
            self.update_status(ingresses)
            self.update_gateway_statuses(statuses)

    # -- status ------------------------------------------------------------------------------------
    def load_balancer_addresses(self):
        """The addresses --publish-service's load balancer has given it."""
        svc = self.store["Service"].get(self.flags["publish-service"]) or {}
        return [{k: v for k, v in i.items() if k in ("ip", "hostname")} for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]

    def update_gateway_statuses(self, statuses):
        """The Gateway API objects' status, written where it differs from what they have."""
        for kind, obj, status in statuses:
            if all((obj.get("status") or {}).get(k) == v for k, v in status.items()):
                continue
            ns, name = conf.meta(obj, "namespace"), conf.meta(obj, "name")
            where = f"namespaces/{ns}/" if ns else ""
            info("status.go:180", f"updating {kind} status", namespace=ns, name=name)
            try:
                self.client.request("PATCH", f"/apis/{gateway.GROUP}/v1/{where}{STATUS_PATHS[kind]}/{name}/status", {"status": status},
                                    "application/merge-patch+json")
            except (OSError, ApiError) as e:
                warn("status.go:190", f"error updating {kind} {ns}/{name} status: {e}")

    def addresses(self):
        """runningAddresses: --publish-status-address, else what --publish-service has (its load
        balancer's addresses; its ClusterIP for ClusterIP and NodePort Services), else the node the
        controller runs on. A LoadBalancer Service whose address is still pending publishes its
        ClusterIP here (upstream publishes nothing until the load balancer has an address)."""
        if self.flags["publish-status-address"]:
            return [{"hostname" if any(c.isalpha() for c in a) else "ip": a} for a in self.flags["publish-status-address"].replace(" ", "").split(",") if a]
        if self.flags["publish-service"]:
            svc = self.store["Service"].get(self.flags["publish-service"])
            if svc is None:
                return []
            spec = svc.get("spec") or {}
            if spec.get("type") == "ExternalName":
                return [{"hostname": spec.get("externalName", "")}]
            lb = self.load_balancer_addresses()
            external = [{"ip": ip} for ip in spec.get("externalIPs") or []]
            if spec.get("type") == "LoadBalancer" and (lb or external):
                return lb + [e for e in external if e not in lb]
            if spec.get("type") == "NodePort" and external:
                return external
            return [{"ip": spec["clusterIP"]}] if spec.get("clusterIP") else []
        host = ((self.pod or {}).get("status") or {}).get("hostIP")
        return [{"ip": host}] if host else []

    def update_status(self, ingresses):
        want = sorted(self.addresses(), key=lambda a: a.get("ip") or a.get("hostname") or "")
        for ing in ingresses:
            current = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if current == want:
                continue
            ns, name = conf.meta(ing, "namespace"), conf.meta(ing, "name")
            info("status.go:304", "updating Ingress status", namespace=ns, ingress=name,
                 currentValue=Raw(dumps(current) if current else "null"), newValue=Raw(dumps(want)))
            try:
                self.client.request("PATCH", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}/status",
                                    {"status": {"loadBalancer": {"ingress": want}}}, "application/merge-patch+json")
            except (OSError, ApiError) as e:
                warn("status.go:332", f"error updating ingress rule: {e}")

    # -- process -----------------------------------------------------------------------------------
    def child_exited(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.nginx_pid and not self.stopping:
                code = os.waitstatus_to_exitcode(status)
                fatal("nginx.go:341", f"NGINX process exited unexpectedly (exit status {code})")
            if pid == self.nginx_pid:
                info("nginx.go:386", "NGINX process has stopped")
                sys.exit(0)
            if pid == self.fake_cert_pid:
                if os.waitstatus_to_exitcode(status) != 0 or not os.path.exists(FAKE_CERT):
                    fatal("main.go:101", "unexpected error storing fake SSL Cert: openssl failed")
                with open(FAKE_CERT, "rb") as f:
                    self.fake_cert = {"file": FAKE_CERT, "sha": pem_sha(f.read())}
                info("main.go:101", "SSL fake certificate created", file=FAKE_CERT)

    def shutdown(self):
        info("nginx.go:379", "Shutting down controller queues")
        info("nginx.go:387", "Stopping NGINX process")
        self.stopping = True
        if self.nginx_pid is None:
            sys.exit(0)
        os.kill(self.nginx_pid, _signal.SIGQUIT)

    def serve_health(self):
        controller = self

        class Health(serving.Handler):
            def do_GET(self):
                if self.path.split("?")[0] != "/healthz":
                    code, body = 404, b"404 page not found\n"
                elif controller.healthy:
                    code, body = 200, b"ok"
                else:
                    code, body = 500, b"[-]nginx-ingress-controller failed: reason withheld\nhealthz check failed\n"
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.write(body)

        sock = serving.tcp_listener(serving._socket.AF_INET, ("0.0.0.0", 10254))
        serving.HTTPServer(self.loop, sock, Health)

    def run(self):
        for d in (SSL_DIR, RUN_DIR):
            os.makedirs(d, exist_ok=True)
        self.loop.on_signal(_signal.SIGCHLD, self.child_exited)
        self.loop.on_signal(_signal.SIGTERM, self.shutdown)
        self.fake_cert_pid = make_fake_certificate()
        pod_ns, pod_name = os.environ.get("POD_NAMESPACE"), os.environ.get("POD_NAME")
        if pod_ns and pod_name:
            try:
                self.pod = self.client.get(f"/api/v1/namespaces/{pod_ns}/pods/{pod_name}")
            except (OSError, ApiError) as e:
                warn("main.go:110", f"unable to get POD information: {e}")
        self.serve_health()
        info("nginx.go:273", "Starting NGINX Ingress controller")
        # Ingresses are judged by their class: IngressClasses are listed before anything else.
        self.start_informer("IngressClass")
        try:
            self.loop.run()
        finally:
            if self.nginx_pid is not None and not self.stopping:
                os.kill(self.nginx_pid, _signal.SIGTERM)

    def start_informer(self, kind):
        path = KINDS[kind]
        if self.flags["watch-namespace"] and kind not in CLUSTER_SCOPED:
            path = path.replace("/v1/", f"/v1/namespaces/{self.flags['watch-namespace']}/", 1)
        _thread.start_new_thread(self.informer, (kind, path))


def banner():
    code, out = serving.run_captured(["nginx", "-v"])
    version = out.decode(errors="replace").strip().split(": ", 1)[-1]
    print("-" * 79)
    print("NGINX Ingress controller")
    print(f"  Release:       {RELEASE}")
    print("  Build:         netdojo")
    print("  Repository:    https://github.com/kubernetes/ingress-nginx")
    print(f"  nginx version: {version}")
    print()
    print("-" * 79)
    print(flush=True)


def main():
    flags, ignored = parse_flags(sys.argv[1:])
    banner()
    for name in ignored:
        warn("flags.go:286", f"--{name} has no effect in this lab's controller")
    try:
        client = Client.in_cluster()
    except (RuntimeError, OSError) as e:
        fatal("main.go:205", str(e))
    info("main.go:205", "Creating API client", host=client.url)
    for attempt in range(1, 11):
        try:
            version = client.get("/version")
            break
        except (OSError, ApiError) as e:
            info("main.go:233", "Unexpected error discovering Kubernetes version", attempt=attempt, error=str(e))
            time.sleep(min(attempt, 5))
    else:
        fatal("main.go:238", "error while initiating a connection to the Kubernetes API server")
    info("main.go:248", "Running in Kubernetes cluster", major=version.get("major", ""), minor=version.get("minor", ""),
         git=version.get("gitVersion", ""), state="clean", commit=version.get("gitCommit", ""), platform=version.get("platform", ""))
    Controller(client, flags).run()
