# HTTPRoute matches (from _gateway.py) as nginx configuration, added to the servers and upstreams
# the Ingresses make (_ingress_conf.py), so that one nginx serves both.
#
# nginx picks a location by path alone, while a route match also tests the method, headers and
# query parameters, and the spec orders matches across every route of a hostname. So a server's
# matches become one `map` whose regular expressions nginx tries in the order written (precedence
# first) against "port \n method \n path \n header values... \n query values...": the first that
# matches names the rule, whose internal location filters and proxies the request; no match is a
# 404. A hostname's matches fall back on those of the wildcard hostnames covering it, then on the
# routes without hostnames, as the more specific hostname takes precedence.
import math

import _ingress_conf as conf
from _gateway import covers

REGEX_SPECIAL = set("\\^$.|?*+()[]{}")
ANY = "[^\\n]*"


def regex_escape(s):
    return "".join("\\" + c if c in REGEX_SPECIAL else c for c in s)


def value_regex(match_type, value):
    """A header's or query parameter's value: Exact, or a RegularExpression for the whole value."""
    return regex_escape(value) if match_type == "Exact" else f"(?:{value})"


def path_regex(entry):
    """PathPrefix matches whole segments (/api matches /api and /api/x, not /apiary; a trailing
    slash is ignored); Exact only itself; RegularExpression the whole path."""
    path = entry["path"]
    if entry["pathType"] == "Exact":
        return regex_escape(path)
    if entry["pathType"] == "RegularExpression":
        return f"(?:{path})"
    prefix = path.rstrip("/")
    return f"{regex_escape(prefix)}(?:/{ANY})?" if prefix else f"/{ANY}"


def variable(kind, name):
    """nginx's variable for a request header ($http_x_request_id) or query parameter ($arg_page)."""
    return f"${kind}_" + "".join(c if c.isalnum() else "_" for c in name.lower())


def rule_name(route, rule):
    """A rule's upstream, and with "/@" before it its internal location."""
    return f"httproute-{conf.meta(route, 'namespace')}-{conf.meta(route, 'name')}-rule{rule}"



def applicable(host, matches):
    """The matches a server answers with: its hostname's, then the wildcards' covering it (the
    longest first), then those of routes without hostnames."""
    def rank(m):
        if m["host"] == (None if host == conf.DEFAULT_SERVER else host):
            return 0
        if m["host"] and host != conf.DEFAULT_SERVER and covers(m["host"], host):
            return 1 + 1 / len(m["host"])
        return 2 if m["host"] is None else None
    ranked = [(rank(m), i, m) for i, m in enumerate(matches)]
    return [m for r, _, m in sorted((r, i, m) for r, i, m in ranked if r is not None)]


def weighted_endpoints(backends, endpoints_of):
    """An upstream for a rule's backends: each endpoint weighted so that each backendRef gets
    its weight's share of the requests, however many endpoints it has; an invalid backendRef's
    share answers 500. A Service without ready endpoints gets no share."""
    groups = [(b.get("weight", 1), endpoints_of(b) if b["valid"] else [conf.INVALID_BACKEND]) for b in backends if b.get("weight", 1) > 0]
    groups = [(w, eps) for w, eps in groups if eps]
    if len(groups) == 1:
        return groups[0][1], None
    scale = math.lcm(*(len(eps) for _, eps in groups)) if groups else 1
    return [ep for _, eps in groups for ep in eps], [w * scale // len(eps) for w, eps in groups for _ in eps]


def header_changes(filters, maps, prefix):
    """RequestHeaderModifier as the headers the backend gets, (name, nginx value): set replaces a
    header, remove drops it (an empty value), add appends its value to the request's (a map
    gives the value alone when the request has none)."""
    out = []
    for f in filters:
        if f.get("type") == "RequestHeaderModifier":
            mod = f.get("requestHeaderModifier") or {}
            out += [(h["name"], conf.literal(h["value"])) for h in mod.get("set") or []]
            for h in mod.get("add") or []:
                var = f"{prefix}_add_{len(maps)}"
                current = variable("http", h["name"])
                maps.append({"source": current, "variable": var, "entries": [("", conf.literal(h["value"]))], "default": f"{current},{conf.literal(h['value'])}"})
                out.append((h["name"], var))
            out += [(name, "") for name in mod.get("remove") or []]
    return out


def redirect_url(filters):
    """RequestRedirect: the Location a redirect answers with, from the request's own scheme, host
    and path where the filter gives none; a port is written only when it is not the scheme's."""
    f = next((f.get("requestRedirect") or {} for f in filters if f.get("type") == "RequestRedirect"), None)
    if f is None:
        return None
    scheme = f.get("scheme") or "$scheme"
    port = f.get("port")
    suffix = f":{port}" if port and (scheme, port) not in (("http", 80), ("https", 443)) else ""
    path = (f.get("path") or {}).get("replaceFullPath") if (f.get("path") or {}).get("type") == "ReplaceFullPath" else None
    return f.get("statusCode") or 302, f"{scheme}://{conf.literal(f.get('hostname') or '') or '$host'}{suffix}{conf.literal(path) if path else '$request_uri'}"


def add_routes(servers, upstreams, matches, services, slices, certificates, warnings):
    """The servers and upstreams with the HTTPRoute matches added; `certificates` are the usable
    TLS Secrets, which the HTTPS listeners' hostnames are served with."""
    svc_by_key = {conf.key(s): s for s in services}
    by_service = conf.slices_by_service(slices)

    def endpoints_of(b):
        svc_key = f"{b['namespace']}/{b['name']}"
        return conf.endpoints(svc_by_key.get(svc_key), by_service.get(svc_key, []), b.get("port"))

    for m in matches:
        host = m["host"] or conf.DEFAULT_SERVER
        server = servers.setdefault(host, {"hostname": host, "cert": None, "suffixWildcard": True,
                                           "locations": [conf.location("/", "Prefix", conf.DEFAULT_UPSTREAM, default_backend=True)]})
        if m["secret"] and server["cert"] in (None, "default"):
            # An HTTPS listener's hostname is served with its certificate (one without a hostname
            # makes it the catch-all server's, for every name no other certificate covers).
            server["cert"] = certificates[m["secret"]]
        name = rule_name(m["route"], m["rule"])
        if name not in upstreams:
            eps, weights = weighted_endpoints(m["backends"], endpoints_of)
            upstreams[name] = {"name": name, "endpoints": eps, "weights": weights, "valid": any(b["valid"] for b in m["backends"])}

    for index, server in enumerate(sorted(servers.values(), key=lambda s: s["hostname"])):
        mine = applicable(server["hostname"], matches)
        if not mine:
            continue
        root = next(loc for loc in server["locations"] if loc["path"] == "/" and loc["pathType"] == "Prefix")
        if not root["isDefBackend"]:
            warnings.append(f'Host "{server["hostname"]}": an Ingress serves "/", which takes the requests its HTTPRoutes match')
            continue
        headers = sorted({h for m in mine for h, _, _ in m["headers"]})
        query = sorted({q for m in mine for q, _, _ in m["query"]})
        fields = ["$server_port", "$request_method", "$uri"] + [variable("http", h) for h in headers] + [variable("arg", q) for q in query]
        var = f"$gateway_rule_{index}"
        entries = []
        for m in mine:
            got_h = {name: value_regex(t, v) for name, t, v in m["headers"]}
            got_q = {name: value_regex(t, v) for name, t, v in m["query"]}
            parts = [str(m["port"]), m["method"] or ANY, path_regex(m)]
            parts += [got_h.get(h, ANY) for h in headers]
            parts += [got_q.get(q, ANY) for q in query]
            entry = ("~(?m)\\A" + "\\n".join(parts) + "\\z", f"/@{rule_name(m['route'], m['rule'])}")
            if entry not in entries:  # a rule both for this hostname and a wildcard covering it
                entries.append(entry)
        maps = server.setdefault("maps", [])
        maps.append({"source": "\\n".join(fields), "variable": var, "entries": entries, "default": ""})
        root.update(dispatch=var, isDefBackend=False)
        for m in mine:
            path = f"/@{rule_name(m['route'], m['rule'])}"
            if any(loc["path"] == path for loc in server["locations"]):
                continue
            loc = conf.location(path, "Exact", rule_name(m["route"], m["rule"]), m["route"],
                                ",".join(b["name"] for b in m["backends"]), ",".join(str(b.get("port", "")) for b in m["backends"]))
            redirect = redirect_url(m["filters"])
            loc.update(internal=True, headers=header_changes(m["filters"], maps, var), redirect=redirect, passURI="$request_uri",
                       # Ingress annotations do not apply to routes, nor does the HTTPS redirect of TLS hosts.
                       rewrite=dict(conf.rewrite_annotations(None), sslRedirect=False),
                       status=None if redirect or upstreams[loc["upstream"]]["valid"] else 500)
            server["locations"].append(loc)
    return dict(sorted(servers.items())), dict(sorted(upstreams.items()))
