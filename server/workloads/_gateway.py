# The Gateway API (gateway.networking.k8s.io, standard channel v1.3) as the ingress-nginx
# controller of the netns lab implements it beside its Ingresses: which GatewayClasses, Gateways
# and HTTPRoutes are its own, the status it writes on them (the conditions and reasons of the
# API's spec and conformance tests), and the route matches it hands to the nginx configuration
# (_ingress_conf.py). Pure functions of plain objects, as _ingress_conf.py's are.
#
# Every Gateway of the controller's classes is served by the controller's one nginx behind its one
# Service: a listener is HTTP on port 80 or HTTPS on port 443 (the ports that Service exposes);
# its address is the Service's load-balancer address.
from _ingress_conf import key, meta

GROUP = "gateway.networking.k8s.io"
SUPPORTED_KINDS = [{"group": GROUP, "kind": "HTTPRoute"}]
# The port each protocol's listener must use: those of nginx's listeners, which the Service exposes.
LISTENER_PORTS = {"HTTP": 80, "HTTPS": 443}
BUNDLE_VERSION = "v1.3.0"
# The filters the nginx configuration implements; a route with another is not accepted.
SUPPORTED_FILTERS = ("RequestHeaderModifier", "RequestRedirect")


def conditions(previous, wanted, generation, now):
    """metav1.Conditions from (type, ok, reason, message): a condition keeps its
    lastTransitionTime while its status stays the same."""
    before = {c.get("type"): c for c in previous or []}
    out = []
    for type_, ok, reason, message in wanted:
        status = "True" if ok else "False"
        old = before.get(type_) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status and old.get("lastTransitionTime") else now
        out.append({"type": type_, "status": status, "reason": reason, "message": message,
                    "observedGeneration": generation, "lastTransitionTime": since})
    return out


def generation(obj):
    return meta(obj, "generation", 0)


# ---- references -----------------------------------------------------------------------------------

def permitted(grants, from_kind, from_ns, to_group, to_kind, to_ns, to_name):
    """A reference across namespaces needs a ReferenceGrant in the target's namespace whose `from`
    names the referring kind and namespace and whose `to` names the target's kind (and name, if
    it gives one). References within a namespace need none."""
    if from_ns == to_ns:
        return True
    for grant in grants:
        if meta(grant, "namespace") != to_ns:
            continue
        spec = grant.get("spec") or {}
        if not any(f.get("group") == GROUP and f.get("kind") == from_kind and f.get("namespace") == from_ns for f in spec.get("from") or []):
            continue
        if any((t.get("group") or "") == to_group and t.get("kind") == to_kind and t.get("name") in (None, "", to_name) for t in spec.get("to") or []):
            return True
    return False


# ---- hostnames ------------------------------------------------------------------------------------

def covers(wildcard, host):
    """A `*.` hostname matches every host with one or more labels in place of the `*`."""
    return wildcard.startswith("*.") and host.endswith(wildcard[1:]) and len(host) > len(wildcard) - 1


def intersect(listener_host, route_hosts):
    """The hostnames a route serves on a listener: the route's that the listener's hostname
    admits (the more specific of the two when one is a wildcard covering the other); all the
    route's when the listener has none, the listener's when the route has none. None is any host."""
    if not route_hosts:
        return [listener_host or None]
    if not listener_host:
        return list(route_hosts)
    out = []
    for h in route_hosts:
        name = h if h == listener_host or covers(listener_host, h) else listener_host if covers(h, listener_host) else None
        if name and name not in out:
            out.append(name)
    return out


# ---- GatewayClasses and Gateways ------------------------------------------------------------------

def class_status(gc, now):
    return {"conditions": conditions((gc.get("status") or {}).get("conditions"), [
        ("Accepted", True, "Accepted", "The GatewayClass is accepted by the ingress-nginx controller"),
        ("SupportedVersion", True, "SupportedVersion", f"Gateway API CRD bundle version {BUNDLE_VERSION} is supported"),
    ], generation(gc), now)}


def listener_state(gw, listener, grants, certificates):
    """A listener's verdict: its conditions as (type, ok, reason, message), its supported kinds,
    whether it is served, and the TLS Secret it serves with ("namespace/name")."""
    protocol, port = listener.get("protocol"), listener.get("port")
    allowed = ((listener.get("allowedRoutes") or {}).get("kinds")) or SUPPORTED_KINDS
    kinds = [k for k in allowed if (k.get("group") or GROUP) == GROUP and k.get("kind") == "HTTPRoute"]
    if protocol not in LISTENER_PORTS:
        return [("Accepted", False, "UnsupportedProtocol", f"Protocol {protocol} is not supported: only HTTP and HTTPS are"),
                ("Programmed", False, "Invalid", "The listener is not valid"),
                ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")], [], False, None
    if port != LISTENER_PORTS[protocol]:
        return [("Accepted", False, "PortUnavailable", f"The controller's Service serves {protocol} on port {LISTENER_PORTS[protocol]} only"),
                ("Programmed", False, "Invalid", "The listener is not valid"),
                ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")], kinds, False, None
    problem, secret = None, None
    if len(kinds) < len(allowed):
        problem = ("InvalidRouteKinds", "Only HTTPRoute is supported")
    tls = listener.get("tls") or {}
    if protocol == "HTTPS" and (tls.get("mode") or "Terminate") != "Terminate":
        return [("Accepted", False, "UnsupportedValue", "TLS mode Passthrough is not supported"),
                ("Programmed", False, "Invalid", "The listener is not valid"),
                ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")], kinds, False, None
    if protocol == "HTTPS" and not problem:
        ns = meta(gw, "namespace")
        for ref in tls.get("certificateRefs") or []:
            ref_ns = ref.get("namespace") or ns
            ref_key = f"{ref_ns}/{ref.get('name')}"
            if (ref.get("group") or "") != "" or (ref.get("kind") or "Secret") != "Secret":
                problem = ("InvalidCertificateRef", f"Certificate reference {ref_key} is not a Secret")
            elif not permitted(grants, "Gateway", ns, "", "Secret", ref_ns, ref.get("name")):
                problem = ("RefNotPermitted", f"Certificate reference {ref_key} is not permitted by any ReferenceGrant")
            elif ref_key not in certificates:
                problem = ("InvalidCertificateRef", f"Secret {ref_key} does not exist or is not a valid kubernetes.io/tls Secret")
            if problem:
                break
            secret = secret or ref_key
        if not problem and secret is None:
            problem = ("InvalidCertificateRef", "An HTTPS listener needs a certificateRef")
    if problem:
        return [("Accepted", True, "Accepted", "The listener is accepted"),
                ("Programmed", False, "Invalid", "The listener's references do not resolve"),
                ("ResolvedRefs", False, problem[0], problem[1])], kinds, False, None
    return [("Accepted", True, "Accepted", "The listener is accepted"),
            ("Programmed", True, "Programmed", "The listener is programmed"),
            ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")], kinds, True, secret


def certificate_refs(gateways, grants):
    """The TLS Secrets ("namespace/name") the Gateways' HTTPS listeners may use, for the
    controller to read."""
    out = set()
    for gw in gateways:
        ns = meta(gw, "namespace")
        for listener in (gw.get("spec") or {}).get("listeners") or []:
            for ref in ((listener.get("tls") or {}).get("certificateRefs")) or []:
                ref_ns = ref.get("namespace") or ns
                if permitted(grants, "Gateway", ns, "", "Secret", ref_ns, ref.get("name")):
                    out.add(f"{ref_ns}/{ref.get('name')}")
    return out


# ---- HTTPRoutes -----------------------------------------------------------------------------------

def route_allowed(listener, route, namespaces):
    """allowedRoutes: the route's kind, and its namespace: the Gateway's own (Same, the default),
    any (All), or those whose labels match the selector (Selector)."""
    allowed = listener.get("allowedRoutes") or {}
    if not any((k.get("group") or GROUP) == GROUP and k.get("kind") == "HTTPRoute" for k in allowed.get("kinds") or SUPPORTED_KINDS):
        return False
    space = allowed.get("namespaces") or {}
    origin = space.get("from") or "Same"
    if origin == "All":
        return True
    if origin == "Selector":
        labels = meta(namespaces.get(meta(route, "namespace")) or {}, "labels", {}) or {}
        return selects(space.get("selector") or {}, labels)
    return meta(route, "namespace") == listener["_namespace"]


def selects(selector, labels):
    """A metav1.LabelSelector's matchLabels and matchExpressions."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        op, values, present = e.get("operator"), e.get("values") or [], e.get("key") in labels
        if (op == "In" and labels.get(e.get("key")) not in values) or (op == "NotIn" and present and labels[e["key"]] in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def backend_problem(route, ref, services, grants):
    """ResolvedRefs for a backendRef: a Service that exists and that the route may name."""
    ns = ref.get("namespace") or meta(route, "namespace")
    name = f"{ns}/{ref.get('name')}"
    if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
        return ("InvalidKind", f"Backend {ref.get('kind')} {name} is not a Service")
    if not permitted(grants, "HTTPRoute", meta(route, "namespace"), "", "Service", ns, ref.get("name")):
        return ("RefNotPermitted", f"Backend {name} is in another namespace and no ReferenceGrant permits it")
    if name not in services:
        return ("BackendNotFound", f"Service {name} not found")
    return None


def parent_key(route, ref):
    return f"{ref.get('namespace') or meta(route, 'namespace')}/{ref.get('name')}"


def is_gateway_ref(ref):
    return (ref.get("group") or GROUP) == GROUP and (ref.get("kind") or "Gateway") == "Gateway"


def attach(route, ref, listeners, namespaces):
    """One parentRef of a route on one of our Gateways: the listeners it attaches to (those its
    sectionName and port select that allow it), and the Accepted condition it gets there."""
    named = [ln for ln in listeners if ref.get("sectionName") in (None, ln["name"]) and ref.get("port") in (None, ln.get("port"))]
    if not named:
        return [], [], ("NoMatchingParent", "No listener matches the parentRef's sectionName and port")
    allowing = [ln for ln in named if route_allowed(ln, route, namespaces)]
    if not allowing:
        return [], [], ("NotAllowedByListeners", "No listener allows routes from this namespace or of this kind")
    serving = [(ln, hosts) for ln in allowing if ln["_served"] for hosts in [intersect(ln.get("hostname"), (route.get("spec") or {}).get("hostnames"))] if hosts]
    if not serving and any(ln["_served"] for ln in allowing):
        return allowing, [], ("NoMatchingListenerHostname", "No hostname of the route matches a listener's hostname")
    if not serving:
        return allowing, [], ("Pending", "No listener the route attaches to is programmed")
    return allowing, serving, None


def route_matches(route, rule_index, rule, hosts, listener, backends):
    """The matches of a rule on a listener, one entry per match and hostname, as the nginx
    configuration takes them (_gateway_conf.py)."""
    out = []
    for i, m in enumerate(rule.get("matches") or [{}]):
        path = m.get("path") or {"type": "PathPrefix", "value": "/"}
        for host in hosts:
            out.append({"host": host, "port": listener["port"], "secret": listener["_secret"], "path": path.get("value") or "/", "pathType": path.get("type") or "PathPrefix",
                        "method": m.get("method"), "headers": [(h["name"], h.get("type") or "Exact", h["value"]) for h in m.get("headers") or []],
                        "query": [(q["name"], q.get("type") or "Exact", q["value"]) for q in m.get("queryParams") or [] if "name" in q and "value" in q],
                        "route": route, "rule": rule_index, "match": i, "filters": rule.get("filters") or [], "backends": backends})
    return out


def precedence(entry):
    """The order the spec gives matches across every route of a hostname: an Exact path before
    any other, regular expressions next (nginx tries them before prefixes), then the longest
    prefix; then a method, more headers, more query parameters; then the oldest route, its
    namespace/name, and the order of its rules and matches."""
    kind = {"Exact": 0, "RegularExpression": 1}.get(entry["pathType"], 2)
    return (kind, -len(entry["path"]) if kind == 2 else 0, entry["method"] is None, -len(entry["headers"]), -len(entry["query"]),
            meta(entry["route"], "creationTimestamp"), key(entry["route"]), entry["rule"], entry["match"])


# ---- the whole picture ----------------------------------------------------------------------------

def resolve(world, controller, addresses, certificates, now):
    """What the controller makes of the Gateway API objects. `world` holds lists: classes,
    gateways, routes, grants, services and namespaces; `addresses` are the Service's load-balancer
    IPs; `certificates` the usable TLS Secrets by "namespace/name". Returns the statuses to write
    ([(kind, object, status)]) and the served route matches, precedence first."""
    classes = {meta(c, "name"): c for c in world["classes"] if (c.get("spec") or {}).get("controllerName") == controller}
    services = {key(s) for s in world["services"]}
    namespaces = {meta(n, "name"): n for n in world.get("namespaces") or []}
    grants = world["grants"]
    statuses = [("GatewayClass", c, class_status(c, now)) for c in classes.values()]
    gateways = {}
    for gw in world["gateways"]:
        if (gw.get("spec") or {}).get("gatewayClassName") not in classes:
            continue
        listeners = []
        for listener in (gw.get("spec") or {}).get("listeners") or []:
            conds, kinds, served, secret = listener_state(gw, listener, grants, certificates)
            listeners.append(dict(listener, _namespace=meta(gw, "namespace"), _conditions=conds, _kinds=kinds, _served=served, _secret=secret, _attached=0))
        gateways[key(gw)] = (gw, listeners)

    matches = []
    for route in sorted(world["routes"], key=lambda r: (meta(r, "creationTimestamp"), key(r))):
        spec = route.get("spec") or {}
        problems = [p for rule in spec.get("rules") or [] for ref in rule.get("backendRefs") or [] for p in [backend_problem(route, ref, services, grants)] if p]
        unsupported = sorted({f.get("type") for rule in spec.get("rules") or [] for f in rule.get("filters") or [] if f.get("type") not in SUPPORTED_FILTERS})
        parents = []
        for ref in spec.get("parentRefs") or []:
            if not is_gateway_ref(ref) or parent_key(route, ref) not in gateways:
                continue  # not a parent of ours: its status is another controller's
            _, listeners = gateways[parent_key(route, ref)]
            attached, serving, refused = attach(route, ref, listeners, namespaces)
            if unsupported and not refused:
                serving, refused = [], ("UnsupportedValue", f"Filters not supported: {', '.join(unsupported)}")
            for ln in attached:
                ln["_attached"] += 1
            for ln, hosts in serving:
                for i, rule in enumerate(spec.get("rules") or [{}]):
                    backends = [dict(b, namespace=b.get("namespace") or meta(route, "namespace"), valid=backend_problem(route, b, services, grants) is None)
                                for b in rule.get("backendRefs") or []]
                    matches += route_matches(route, i, rule, hosts, ln, backends)
            accepted = ("Accepted", False, *refused) if refused else ("Accepted", True, "Accepted", "The route is accepted")
            resolved = ("ResolvedRefs", False, *problems[0]) if problems else ("ResolvedRefs", True, "ResolvedRefs", "All references are resolved")
            previous = next((p.get("conditions") for p in (route.get("status") or {}).get("parents") or []
                             if p.get("controllerName") == controller and p.get("parentRef") == ref), None)
            parents.append({"parentRef": ref, "controllerName": controller, "conditions": conditions(previous, [accepted, resolved], generation(route), now)})
        if parents or any(p.get("controllerName") == controller for p in (route.get("status") or {}).get("parents") or []):
            others = [p for p in (route.get("status") or {}).get("parents") or [] if p.get("controllerName") != controller]
            statuses.append(("HTTPRoute", route, {"parents": others + parents}))

    for gw, listeners in gateways.values():
        statuses.append(("Gateway", gw, gateway_status(gw, listeners, addresses, now)))
    matches.sort(key=precedence)
    return statuses, matches


def gateway_status(gw, listeners, addresses, now):
    """A Gateway's addresses, its Accepted and Programmed conditions and its listeners'."""
    old = gw.get("status") or {}
    old_listeners = {ls.get("name"): ls for ls in old.get("listeners") or []}
    invalid = [ln["name"] for ln in listeners if not ln["_served"]]
    if invalid and len(invalid) == len(listeners):
        accepted = ("Accepted", False, "ListenersNotValid", f"No listener is valid: {', '.join(invalid)}")
    elif invalid:
        accepted = ("Accepted", True, "ListenersNotValid", f"Listeners not valid: {', '.join(invalid)}")
    else:
        accepted = ("Accepted", True, "Accepted", "The Gateway is accepted")
    if not addresses:
        programmed = ("Programmed", False, "AddressNotAssigned", "The controller's Service has no load-balancer address yet")
    elif not accepted[1]:
        programmed = ("Programmed", False, "Invalid", "The Gateway is not accepted")
    else:
        programmed = ("Programmed", True, "Programmed", "The Gateway is programmed")
    gen = generation(gw)
    return {
        "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
        "conditions": conditions(old.get("conditions"), [accepted, programmed], gen, now),
        "listeners": [{"name": ln["name"], "supportedKinds": ln["_kinds"], "attachedRoutes": ln["_attached"],
                       "conditions": conditions((old_listeners.get(ln["name"]) or {}).get("conditions"),
                                                ln["_conditions"] + [("Conflicted", False, "NoConflicts", "No conflicts")], gen, now)}
                      for ln in listeners],
    }
