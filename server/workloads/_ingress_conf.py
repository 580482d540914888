# What ingress-nginx (controller v1.15) makes of the cluster's objects, as netdojo's stand-in for
# the controller computes it: which Ingresses it serves, the servers, locations and upstreams they
# become (internal/ingress/controller/controller.go and location.go), and the nginx.conf rendered
# from them (rootfs/etc/nginx/template/nginx.tmpl). Pure functions of plain objects: the controller
# (_ingress_controller.py) feeds them the watched objects, the tests feed them fixtures.
#
# Where the real controller relies on Lua (OpenResty), plain nginx does the same job:
#   - endpoints: ingress-nginx's balancer picks an endpoint IP in Lua; here each backend is an
#     `upstream` block of the Service's ready endpoint IPs (ingress-nginx proxies to endpoints, not
#     to the ClusterIP), so an endpoint change reloads nginx where the real one updates Lua's table;
#   - certificates: ingress-nginx selects one by SNI in Lua; here each server carries its own
#     ssl_certificate, which nginx selects by SNI the same way;
#   - the HTTP to HTTPS redirect (308) and HSTS of ingress-nginx's rewrite and header phases are
#     `return` and `add_header` directives.
# Of the annotations, those that change routing the most are honoured: rewrite-target, use-regex,
# ssl-redirect, force-ssl-redirect.
#
# The rendering also writes what HTTPRoutes add to the servers (_gateway_conf.py): maps that pick a
# route's rule, the rules' internal locations and their upstreams, weighted by backendRef.

DEFAULT_SERVER = "_"
DEFAULT_UPSTREAM = "upstream-default-backend"
# ingress-nginx's defaults (internal/ingress/controller/config/config.go).
LOG_FORMAT_UPSTREAM = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                       '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] '
                       '$upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id')
HSTS = "max-age=31536000; includeSubDomains"
SSL_PROTOCOLS = "TLSv1.2 TLSv1.3"
SSL_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
               "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
               "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256")
# The ports of ingress-nginx's listeners (--http-port, --https-port, --default-server-port, --status-port).
PORTS = {"http": 80, "https": 443, "default": 8181, "status": 10246}
# Where HTTPRoute rules send the share of their requests that an invalid backendRef's weight
# claims: a local server answering 500, as the Gateway API requires.
INVALID_BACKEND = "127.0.0.1:8182"
# Paths ingress-nginx never redirects to HTTPS (no-tls-redirect-locations): ACME HTTP-01 challenges.
NO_TLS_REDIRECT = ("/.well-known/acme-challenge",)


def meta(obj, field, default=""):
    return (obj.get("metadata") or {}).get(field) or default


def key(obj):
    return f"{meta(obj, 'namespace')}/{meta(obj, 'name')}"


# ---- which Ingresses are ours -------------------------------------------------------------------

def ingress_class(ing, classes, flags):
    """store.GetIngressClass: the class an Ingress is served under, or None when it is not ours.
    `classes` are the IngressClasses whose controller is ours (the informer watches only those).
    spec.ingressClassName must name one of them; else the kubernetes.io/ingress.class annotation must
    be --ingress-class; else, with --watch-ingress-without-class, "_" (a class-less Ingress). The
    default IngressClass is the API server's affair: its admission fills in ingressClassName."""
    name = (ing.get("spec") or {}).get("ingressClassName")
    if name is not None:
        return name if any(meta(c, "name") == name for c in classes) else None
    annotation = (meta(ing, "annotations", {}) or {}).get("kubernetes.io/ingress.class")
    if annotation is not None:
        return annotation if annotation == flags["ingress_class"] else None
    return "_" if flags["watch_without_class"] else None


def our_classes(classes, flags):
    return [c for c in classes if (c.get("spec") or {}).get("controller") == flags["controller_class"]]


def served_ingresses(ingresses, classes, flags):
    """The Ingresses the controller serves, oldest first (conflicts go to the oldest, as upstream)."""
    ours = our_classes(classes, flags)
    served = [i for i in ingresses if ingress_class(i, ours, flags) is not None]
    return sorted(served, key=lambda i: (meta(i, "creationTimestamp"), key(i)))


# ---- backends -----------------------------------------------------------------------------------

def service_port_ref(backend):
    port = (backend.get("service") or {}).get("port") or {}
    return port.get("number") or port.get("name") or ""


def upstream_name(namespace, backend):
    """upstreamName: <namespace>-<service>-<port number or name>."""
    return f"{namespace}-{backend['service']['name']}-{service_port_ref(backend)}"


def endpoints(service, slices, port_ref):
    """getEndpointsFromSlices: the ready endpoint addresses of the Service port the backend names
    (by number, name or targetPort), each with the target port its EndpointSlice gives that port."""
    if service is None:
        return []
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    # ingress-nginx (serviceEndpoints) takes the first Service port whose number, targetPort or name
    # reads as the backend's port: a backend naming the container's port 8080 of a Service 80 -> 8080
    # is served; a port the Service has in none of these ways leaves it without endpoints.
    ref = str(port_ref)
    port = next((p for p in spec.get("ports") or []
                 if str(p.get("port")) == ref or str(p.get("targetPort", p.get("port"))) == ref or (p.get("name") or None) == ref), None)
    if port is None:
        return []
    out = []
    for s in slices:
        target = next((p.get("port") for p in s.get("ports") or [] if (p.get("name") or "") == (port.get("name") or "")), None)
        if target is None:
            continue
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for address in ep.get("addresses") or []:
                if f"{address}:{target}" not in out:
                    out.append(f"{address}:{target}")
    return out


def slices_by_service(slices):
    """EndpointSlices by the "namespace/name" of the Service they belong to."""
    out = {}
    for s in slices:
        owner = (meta(s, "labels", {}) or {}).get("kubernetes.io/service-name")
        if owner:
            out.setdefault(f"{meta(s, 'namespace')}/{owner}", []).append(s)
    return out


# ---- servers and locations ----------------------------------------------------------------------

ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io/"


def parse_bool(value, default):
    """Go's strconv.ParseBool; an annotation it cannot parse keeps the default."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return default


def rewrite_annotations(ing):
    """The rewrite annotations of an Ingress, which apply to its locations: rewrite-target (the
    path the backend gets; with it, paths are regular expressions), use-regex, ssl-redirect (on by
    default: a TLS host redirects HTTP to HTTPS) and force-ssl-redirect (even without TLS)."""
    anns = (meta(ing, "annotations", {}) or {}) if ing else {}

    def get(name):
        return anns.get(ANNOTATION_PREFIX + name)
    return {"target": get("rewrite-target") or "", "useRegex": parse_bool(get("use-regex"), False),
            "sslRedirect": parse_bool(get("ssl-redirect"), True), "forceSSLRedirect": parse_bool(get("force-ssl-redirect"), False)}


def needs_rewrite(loc):
    return loc["rewrite"]["target"] not in ("", loc["path"])


def location(path, path_type, upstream, ing=None, service="", port="", default_backend=False):
    return {"path": path, "pathType": path_type, "upstream": upstream, "ingress": ing, "service": service,
            "port": str(port), "isDefBackend": default_backend, "ingressPath": path, "rewrite": rewrite_annotations(ing)}


def host_matches(pattern, host):
    """x509's VerifyHostname for a DNS name: exact, or a wildcard standing for one leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == pattern[2:]
    return False


def tls_secret_name(host, ing, certificates):
    """extractTLSSecretName: the TLS entry naming the host, else one whose certificate covers it."""
    for tls in (ing.get("spec") or {}).get("tls") or []:
        if any(h.lower() == host.lower() for h in tls.get("hosts") or []):
            return tls.get("secretName") or ""
    for tls in (ing.get("spec") or {}).get("tls") or []:
        cert = certificates.get(f"{meta(ing, 'namespace')}/{tls.get('secretName') or ''}")
        if cert and not hostname_error(cert, host):
            return tls["secretName"]
    return ""


def build(ingresses, services, slices, certificates):
    """getBackendServers and createServers: (servers by hostname, upstreams by name, warnings).
    `ingresses` are the served ones, oldest first; `certificates` the usable TLS Secrets by
    "namespace/name" ({"file", "sha", "names": the DNS subjectAltNames, "hasSAN", "cn"}). A
    server's certificate is one of those, "default" (the default certificate, for a TLS host) or
    None (not a TLS host)."""
    svc_by_key = {key(s): s for s in services}
    by_service = slices_by_service(slices)
    warnings = []
    upstreams = {DEFAULT_UPSTREAM: {"name": DEFAULT_UPSTREAM, "endpoints": [f"127.0.0.1:{PORTS['default']}"]}}

    def backend_upstream(ing, backend):
        ns = meta(ing, "namespace")
        name = upstream_name(ns, backend)
        if name not in upstreams:
            svc_key = f"{ns}/{backend['service']['name']}"
            svc = svc_by_key.get(svc_key)
            if svc is None:
                warnings.append(f'Error obtaining Service endpoints: no object matching key "{svc_key}" in local store')
            eps = endpoints(svc, by_service.get(svc_key, []), service_port_ref(backend))
            if svc is not None and not eps:
                warnings.append(f'Service "{svc_key}" does not have any active Endpoint.')
            upstreams[name] = {"name": name, "endpoints": eps}
        return name

    servers = {DEFAULT_SERVER: {"hostname": DEFAULT_SERVER, "cert": "default",
                                "locations": [location("/", "Prefix", DEFAULT_UPSTREAM, default_backend=True)]}}
    default_of = {}
    for ing in ingresses:
        spec = ing.get("spec") or {}
        un = DEFAULT_UPSTREAM
        backend = spec.get("defaultBackend")
        if backend and backend.get("service"):
            un = backend_upstream(ing, backend)
            root = servers[DEFAULT_SERVER]["locations"][0]
            if root["isDefBackend"] and not spec.get("rules"):
                # An Ingress with a backend and no rules is the catch-all server's.
                root.update(upstream=un, ingress=ing, service=backend["service"]["name"], port=str(service_port_ref(backend)), isDefBackend=False)
        default_of[key(ing)] = un
        for rule in spec.get("rules") or []:
            host = rule.get("host") or DEFAULT_SERVER
            if host not in servers:
                servers[host] = {"hostname": host, "cert": None, "locations": [location("/", "Prefix", un, ing, default_backend=True)]}

    for ing in ingresses:
        spec = ing.get("spec") or {}
        for rule in spec.get("rules") or []:
            host = rule.get("host") or DEFAULT_SERVER
            server = servers[host]
            if server["cert"] is None and spec.get("tls"):
                server["cert"] = server_certificate(host, ing, certificates, warnings)
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path.get("backend") or {}
                if not backend.get("service"):
                    continue  # resource backends are not served by ingress-nginx
                ups = backend_upstream(ing, backend)
                nginx_path = path.get("path") or "/"
                path_type = path.get("pathType") or "ImplementationSpecific"
                existing = next((loc for loc in server["locations"] if loc["path"] == nginx_path and loc["pathType"] == path_type), None)
                if existing is None:
                    server["locations"].append(location(nginx_path, path_type, ups, ing, backend["service"]["name"], service_port_ref(backend)))
                elif existing["isDefBackend"]:
                    # The root location each server starts with gives way to a rule for "/".
                    existing.update(upstream=ups, ingress=ing, service=backend["service"]["name"], port=str(service_port_ref(backend)),
                                    isDefBackend=False, rewrite=rewrite_annotations(ing))

    for server in servers.values():
        server["locations"] = with_exact_locations(server["locations"])
        server["locations"].sort(key=lambda loc: loc["path"], reverse=True)
        server["locations"].sort(key=lambda loc: len(loc["path"]), reverse=True)
    return dict(sorted(servers.items())), dict(sorted(upstreams.items())), warnings


def server_certificate(host, ing, certificates, warnings):
    """The certificate a host's server gets from the first Ingress with a TLS section that names it:
    the Secret's, when usable and valid for the host; "default" (the fake certificate) otherwise."""
    secret = tls_secret_name(host, ing, certificates)
    if not secret:
        return "default"
    secret_key = f"{meta(ing, 'namespace')}/{secret}"
    cert = certificates.get(secret_key)
    if cert is None:
        warnings.append(f'Error getting SSL certificate "{secret_key}": local SSL certificate {secret_key} was not found. Using default certificate')
        return "default"
    problem = hostname_error(cert, host)
    if problem:
        warnings.append(f'SSL certificate "{secret_key}" does not contain a Common Name or Subject Alternative Name for server "{host}": {problem}')
        warnings.append("Using default certificate")
        return "default"
    return cert


def hostname_error(cert, host):
    """Go's Certificate.VerifyHostname, which ingress-nginx uses: only the DNS names of the
    subjectAltName count (the Common Name has not since Go 1.15); the error as Go words it."""
    if any(host_matches(n, host) for n in cert["names"]):
        return None
    if not cert["hasSAN"] and host_matches(cert["cn"], host):
        return "x509: certificate relies on legacy Common Name field, use SANs instead"
    if not cert["names"]:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {', '.join(cert['names'])}, not {host}"


def with_exact_locations(locations):
    """updateServerLocations: a Prefix path /foo matches /foo and /foo/..., not /foobar: it becomes
    `location /foo/` plus `location = /foo` (unless an Exact /foo exists). ImplementationSpecific
    paths stay plain nginx prefixes (/foo matches /foobar too), and so do paths that are regular
    expressions (rewrite-target, use-regex)."""
    exact = {loc["path"] for loc in locations if loc["pathType"] == "Exact"}
    out = []
    for loc in locations:
        if loc["path"] == "/" or loc["pathType"] != "Prefix" or needs_rewrite(loc) or loc["rewrite"]["useRegex"]:
            out.append(loc)
            continue
        prefix = dict(loc, path=loc["path"] if loc["path"].endswith("/") else loc["path"] + "/")
        out.append(prefix)
        if loc["path"] not in exact:
            out.append(dict(loc, pathType="Exact"))
    return out


# ---- nginx.conf ---------------------------------------------------------------------------------

def quote(s):
    """sanitizeQuotedRegex, in double quotes: a path cannot escape the configuration."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value):
    """A value from an object, in an nginx string: its `$` is not a variable."""
    return value.replace("$", "${literal_dollar}")


def render(servers, upstreams, options):
    """nginx.tmpl for these servers and upstreams. options: {"runDir" (nginx's pid and temporary
    files), "defaultCertificate" ({"file", "sha"})}. Each certificate's SHA-1 is written beside it
    so that a Secret's new content changes the configuration, and the reload loads it."""
    run = options["runDir"]
    out = [
        "# Configuration generated by the NGINX Ingress controller from the cluster's Ingresses; every",
        "# change to them (or to their Services, endpoints and TLS Secrets) rewrites it and reloads nginx.",
        "",
        f"pid {run}/nginx.pid;",
        "# The image runs nginx as www-data; a lab pod has no such user (and, rootless, no other uid).",
        "user root;",
        "daemon off;",
        "",
        "# ingress-nginx starts a worker per CPU; one keeps a lab light.",
        "worker_processes 1;",
        "worker_shutdown_timeout 240s ;",
        "",
        "events {",
        "    multi_accept        on;",
        "    # ingress-nginx allows 16384 (7 MB of connection slots per worker); a lab needs far fewer.",
        "    worker_connections  1024;",
        "    use                 epoll;",
        "}",
        "",
        "http {",
        "    aio                 threads;",
        "    aio_write           on;",
        "    tcp_nopush          on;",
        "    tcp_nodelay         on;",
        "    log_subrequest      on;",
        "    reset_timedout_connection on;",
        "    keepalive_timeout  75s;",
        "    keepalive_requests 1000;",
        "",
        f"    client_body_temp_path           {run}/client-body;",
        f"    fastcgi_temp_path               {run}/fastcgi-temp;",
        f"    proxy_temp_path                 {run}/proxy-temp;",
        f"    uwsgi_temp_path                 {run}/uwsgi-temp;",
        f"    scgi_temp_path                  {run}/scgi-temp;",
        "",
        "    client_header_buffer_size       1k;",
        "    client_header_timeout           60s;",
        "    large_client_header_buffers     4 8k;",
        "    client_body_buffer_size         8k;",
        "    client_body_timeout             60s;",
        "    http2_max_concurrent_streams    128;",
        "    types_hash_max_size             2048;",
        "    server_names_hash_max_size      1024;",
        "    server_names_hash_bucket_size   64;",
        "    map_hash_bucket_size            64;",
        "    proxy_headers_hash_max_size     512;",
        "    proxy_headers_hash_bucket_size  64;",
        "    variables_hash_bucket_size      256;",
        "    variables_hash_max_size         2048;",
        "    underscores_in_headers          off;",
        "    ignore_invalid_headers          on;",
        "    limit_req_status                503;",
        "    limit_conn_status               503;",
        "    default_type text/html;",
        "    server_tokens off;",
        "    uninitialized_variable_warn off;",
        "",
        f"    log_format upstreaminfo '{LOG_FORMAT_UPSTREAM}';",
        "    map $request_uri $loggable {",
        "        default 1;",
        "    }",
        "    # The image links /var/log/nginx/access.log and error.log to the container's stdout and stderr.",
        "    access_log /dev/stdout upstreaminfo if=$loggable;",
        "    error_log  stderr notice;",
        "",
        "    # See https://www.nginx.com/blog/websocket-nginx",
        "    map $http_upgrade $connection_upgrade {",
        "        default          upgrade;",
        "        ''               '';",
        "    }",
        "    # A client's X-Request-ID goes on to the backend; a request without one gets a random one.",
        "    map $http_x_request_id $req_id {",
        "        default   $http_x_request_id;",
        '        ""        $request_id;',
        "    }",
        "    # The HTTPS redirect names the host without its port and drops one trailing slash.",
        "    map $http_host $redirect_host {",
        '        ""                        $host;',
        '        "~^(?<redirect_name>[^:]*)"  $redirect_name;',
        "    }",
        "    map $request_uri $redirect_uri {",
        '        "~^(?<redirect_path>.*)/$"  $redirect_path;',
        "        default                   $request_uri;",
        "    }",
        "    map $scheme $hsts {",
        f'        https  "{HSTS}";',
        '        default "";',
        "    }",
        "    add_header Strict-Transport-Security $hsts always;",
        "",
        "    # Create a variable that contains the literal $ character.",
        "    geo $literal_dollar {",
        '        default "$";',
        "    }",
        "",
        "    server_name_in_redirect off;",
        "    port_in_redirect        off;",
        f"    ssl_protocols {SSL_PROTOCOLS};",
        "    ssl_early_data off;",
        "    ssl_session_cache shared:SSL:10m;",
        "    ssl_session_timeout 10m;",
        "    ssl_session_tickets off;",
        "    ssl_buffer_size 4k;",
        f"    ssl_ciphers '{SSL_CIPHERS}';",
        "    ssl_prefer_server_ciphers on;",
        "    ssl_ecdh_curve auto;",
        f"    # PEM sha: {options['defaultCertificate']['sha']}",
        f"    ssl_certificate     {options['defaultCertificate']['file']};",
        f"    ssl_certificate_key {options['defaultCertificate']['file']};",
        "    proxy_ssl_session_reuse on;",
        "",
    ]
    for up in upstreams.values():
        if up["endpoints"]:
            # An HTTPRoute rule's backends share one upstream, weighted as its backendRefs are.
            weights = up.get("weights") or [None] * len(up["endpoints"])
            out += [f"    upstream {up['name']} {{"]
            out += [f"        server {ep}{f' weight={w}' if w else ''} max_fails=0;" for ep, w in zip(up["endpoints"], weights)]
            if up["name"] != DEFAULT_UPSTREAM:
                out += ["        keepalive 320;", "        keepalive_time 1h;", "        keepalive_timeout 60s;", "        keepalive_requests 10000;"]
            out += ["    }", ""]
    for server in servers.values():
        for m in server.get("maps") or []:
            out += render_map(m)
    for server in servers.values():
        out += render_server(server, upstreams)
    if any(INVALID_BACKEND in up["endpoints"] for up in upstreams.values()):
        out += [
            "    # requests an HTTPRoute rule sends to a backendRef that does not resolve",
            "    server {",
            f"        listen {INVALID_BACKEND};",
            '        set $proxy_upstream_name "internal";',
            "        access_log off;",
            "        location / {",
            "            return 500;",
            "        }",
            "    }",
            "",
        ]
    out += [
        "    # backend for when default-backend-service is not configured or it does not have endpoints",
        "    server {",
        f"        listen {PORTS['default']} default_server reuseport backlog=4096;",
        '        set $proxy_upstream_name "internal";',
        "        access_log off;",
        "        location / {",
        "            return 404;",
        "        }",
        "    }",
        "",
        "    # default server, used for NGINX healthcheck and access to nginx stats",
        "    server {",
        f"        listen 127.0.0.1:{PORTS['status']};",
        '        set $proxy_upstream_name "internal";',
        "        keepalive_timeout 0;",
        "        gzip off;",
        "        access_log off;",
        "        location /healthz {",
        "            return 200;",
        "        }",
        "        location /nginx_status {",
        "            stub_status on;",
        "        }",
        "        location / {",
        "            return 404;",
        "        }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(out)


def render_map(m):
    """A map of a source made of variables (its \\n are nginx's newlines) to a variable."""
    out = [f'    map "{m["source"]}" {m["variable"]} {{']
    out += [f"        {quote(k)} {quote(v)};" for k, v in m["entries"]]
    return out + [f"        default {quote(m['default'])};", "    }", ""]


def render_server(server, upstreams):
    host = server["hostname"]
    listen = " default_server reuseport backlog=4096" if host == DEFAULT_SERVER else ""
    out = [
        f"    ## start server {host}",
        "    server {",
        f"        server_name {quote(host if server.get('suffixWildcard') else server_name(host))} ;",
        f"        listen {PORTS['http']}{listen} ;",
        f"        listen {PORTS['https']}{listen} ssl http2;",
        '        set $proxy_upstream_name "-";',
    ]
    if server["cert"] not in (None, "default"):
        cert = server["cert"]
        out += [f"        # PEM sha: {cert['sha']}", f"        ssl_certificate     {cert['file']};", f"        ssl_certificate_key {cert['file']};"]
    # One location that rewrites or uses a regular expression makes every path of the server a
    # case-insensitive regular expression anchored at the start (nginx tries them in order: longest first).
    regex = any(needs_rewrite(loc) or loc["rewrite"]["useRegex"] for loc in server["locations"])
    for loc in server["locations"]:
        out += render_location(server, loc, upstreams, regex)
    if host == DEFAULT_SERVER:
        out += [
            f"        # health checks in cloud providers require the use of port {PORTS['http']}",
            "        location /healthz {",
            "            access_log off;",
            "            return 200;",
            "        }",
            "        # this is required to avoid error if nginx is being monitored",
            "        # with an external software (like sysdig)",
            "        location /nginx_status {",
            "            allow 127.0.0.1;",
            "            deny all;",
            "            access_log off;",
            "            stub_status on;",
            "        }",
        ]
    out += ["    }", f"    ## end server {host}", ""]
    return out


def server_name(host):
    """buildServerName: a wildcard host is a regular expression for one more label. (An
    HTTPRoute's wildcard stands for one label or more, as nginx's own `*.` names do.)"""
    if not host.startswith("*"):
        return host
    return r"~^(?<subdomain>[\w-]+)\." + host[2:].replace(".", "\\.") + "$"


def render_location(server, loc, upstreams, regex):
    ing = loc["ingress"]
    internal = loc.get("internal")
    match = f"~* {quote('^' + loc['path'])}" if regex and not internal else f"= {quote(loc['path'])}" if loc["pathType"] == "Exact" else quote(loc["path"])
    if loc.get("dispatch"):
        # The HTTPRoute rule the request matches, by the map of the server's route matches.
        return [
            f"        location {match} {{",
            f'            if ({loc["dispatch"]} = "") {{',
            "                return 404;",
            "            }",
            f"            rewrite ^ {loc['dispatch']} last;",
            "        }",
            "",
        ]
    up = upstreams[loc["upstream"]]
    out = [f"        location {match} {{"]
    if internal:
        out.append("            internal;")
    out += [
        f"            set $namespace      {quote(meta(ing, 'namespace') if ing else '')};",
        f"            set $ingress_name   {quote(meta(ing, 'name') if ing else '')};",
        f"            set $service_name   {quote(loc['service'])};",
        f"            set $service_port   {quote(loc['port'])};",
        f"            set $location_path  {quote(literal(loc['ingressPath']))};",
        "",
    ]
    if server["hostname"] == DEFAULT_SERVER and loc["isDefBackend"]:
        # enable-access-log-for-default-backend is off: requests for unknown hosts are not logged.
        out.append("            access_log off;")
    out += [
        f"            set $proxy_upstream_name {quote(loc['upstream'])};",
        "            set $proxy_host          $proxy_upstream_name;",
        "            set $pass_access_scheme  $scheme;",
        "            set $pass_server_port    $server_port;",
        "            set $best_http_host      $http_host;",
        "            set $pass_port           $pass_server_port;",
        '            set $proxy_alternative_upstream_name "";',
        "",
    ]
    rw = loc["rewrite"]
    tls_host = server["cert"] is not None and server["hostname"] != DEFAULT_SERVER
    if not loc["path"].startswith(NO_TLS_REDIRECT) and (rw["forceSSLRedirect"] or (rw["sslRedirect"] and tls_host)):
        out += ["            if ($scheme = http) {", "                return 308 https://$redirect_host$redirect_uri;", "            }", ""]
    if loc.get("redirect"):
        code, url = loc["redirect"]
        return out + [f"            return {code} {quote(url)};", "        }", ""]
    if loc.get("status"):
        # An HTTPRoute rule whose backends are all invalid answers 500, as the spec requires.
        return out + [f"            return {loc['status']};", "        }", ""]
    if not up["endpoints"]:
        # ingress-nginx's balancer answers 503 for a backend without a ready endpoint.
        out += ["            return 503;", "        }", ""]
        return out
    proxy = [
        "            client_max_body_size                    1m;",
        "            proxy_set_header Host                   $best_http_host;",
        "            # Allow websocket connections",
        "            proxy_set_header                        Upgrade           $http_upgrade;",
        "            proxy_set_header                        Connection        $connection_upgrade;",
        "            proxy_set_header X-Request-ID           $req_id;",
        "            proxy_set_header X-Real-IP              $remote_addr;",
        "            proxy_set_header X-Forwarded-For        $remote_addr;",
        "            proxy_set_header X-Forwarded-Host       $best_http_host;",
        "            proxy_set_header X-Forwarded-Port       $pass_port;",
        "            proxy_set_header X-Forwarded-Proto      $pass_access_scheme;",
        "            proxy_set_header X-Forwarded-Scheme     $pass_access_scheme;",
        "            proxy_set_header X-Scheme               $pass_access_scheme;",
        "            # Pass the original X-Forwarded-For",
        "            proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;",
        "            # Pass the original X-Forwarded-Host",
        "            proxy_set_header X-Original-Forwarded-Host $http_x_forwarded_host;",
        "            # mitigate HTTPoxy Vulnerability",
        '            proxy_set_header Proxy                  "";',
        "            proxy_connect_timeout                   5s;",
        "            proxy_send_timeout                      60s;",
        "            proxy_read_timeout                      60s;",
        "            proxy_buffering                         off;",
        "            proxy_buffer_size                       4k;",
        "            proxy_buffers                           4 4k;",
        "            proxy_max_temp_file_size                1024m;",
        "            proxy_request_buffering                 on;",
        "            proxy_http_version                      1.1;",
        "            proxy_cookie_domain                     off;",
        "            proxy_cookie_path                       off;",
        "            # In case of errors try the next upstream server before returning an error",
        "            proxy_next_upstream                     error timeout;",
        "            proxy_next_upstream_timeout             0;",
        "            proxy_next_upstream_tries               3;",
    ]
    # An HTTPRoute's header changes replace the headers the location sets, or come after them.
    changed = {name.lower() for name, _ in loc.get("headers") or []}
    out += [line for line in proxy if not (line.split()[:1] == ["proxy_set_header"] and line.split()[1].lower() in changed)]
    out += [f"            proxy_set_header {name} {quote(value)};" for name, value in loc.get("headers") or []]
    if needs_rewrite(loc):
        out.append(f"            rewrite {quote('(?i)' + loc['path'])} {quote(rw['target'])} break;")
    out += [
        f"            proxy_pass http://{loc['upstream']}{loc.get('passURI', '')};",
        "            proxy_redirect                          off;",
        "        }",
        "",
    ]
    return out
