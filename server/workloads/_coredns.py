# The `coredns` image's entrypoint in the netns lab: `coredns.py -conf /etc/coredns/Corefile`.
#
# It behaves like CoreDNS 1.11.1 to everything a learner sees (the Corefile, its errors, the logs,
# the health/ready/metrics ports, reload) while the DNS packets are answered by dnsmasq:
#   1. the Corefile is parsed as CoreDNS does (caddy's lexer and parser, then each plugin's setup in
#      CoreDNS's plugin order), and a broken one fails with CoreDNS's own message and exit code 1;
#   2. the supported plugins become a dnsmasq configuration (one dnsmasq per listening port), run in
#      the foreground; its query log is rewritten into the `log` plugin's format;
#   3. the cluster zone comes from $COREDNS_RECORDS_DIR, written by the lab's controller
#      (server/cluster/dns/records.ts): hosts/ and pods/ are dnsmasq hostsdirs, re-read by dnsmasq
#      itself on change; records.conf (SRV, CNAME) needs a dnsmasq restart, done here on change.
#
# One thread serves dnsmasq's output, the HTTP ports and the reload and records checks, and only
# what a path uses is imported (see serving.py).
import _signal
import _socket
import errno
import os
import select
import sys
import time

import serving

VERSION, GO_VERSION, GIT_COMMIT = "1.11.1", "go1.20.7", "ae2bbc2"
DEFAULT_PORT = "53"
# CoreDNS's reload default is 30 s (minimum 2 s); the lab polls more often so edits land quickly.
RELOAD_POLL_SECONDS = float(os.environ.get("COREDNS_RELOAD_INTERVAL", "2"))
RECORDS_POLL_SECONDS = 0.25
# CoreDNS's forward gives up on an upstream read after 2 s; then `errors` reports an i/o timeout.
FORWARD_READ_TIMEOUT = 2.0
# Source ports dnsmasq may use for the tries of one forwarded query (see dnsmasq_config); its
# random-socket pool holds 75 with the default dns-forward-max.
UPSTREAM_PORTS_PER_QUERY = 64

# core/dnsserver/zdirectives.go: every plugin CoreDNS 1.11.1 is built with, in execution order.
DIRECTIVES = [
    "metadata", "geoip", "cancel", "tls", "timeouts", "reload", "nsid", "bufsize", "root", "bind",
    "debug", "trace", "ready", "health", "pprof", "prometheus", "errors", "log", "dnstap", "local",
    "dns64", "acl", "any", "chaos", "loadbalance", "tsig", "cache", "rewrite", "header", "dnssec",
    "autopath", "minimal", "template", "transfer", "hosts", "route53", "azure", "clouddns",
    "k8s_external", "kubernetes", "file", "auto", "secondary", "etcd", "loop", "forward", "grpc",
    "erratic", "whoami", "on", "sign", "view",
]
# Plugins that change nothing a lab can observe through dnsmasq, accepted silently.
NO_EFFECT = {"loadbalance", "debug", "cancel", "timeouts", "nsid", "bufsize", "any", "minimal", "header"}


class CorefileError(Exception):
    """A start or reload failure, worded as CoreDNS words it."""


# ---------------------------------------------------------------------------------------------
# Go's error wordings the plugins pass through (strconv, time, net).

def go_quote(s):
    return serving.json_string(s, ensure_ascii=False)


def is_int(s):
    """[+-]?\\d+ (any Unicode decimal digits, as Python's re)."""
    return (s[1:] if s[:1] in ("+", "-") else s).isdecimal()


def atoi(s, fn="Atoi"):
    if not is_int(s):
        raise CorefileError(f"strconv.{fn}: parsing {go_quote(s)}: invalid syntax")
    n = int(s)
    if fn == "ParseUint" and n < 0:
        raise CorefileError(f"strconv.{fn}: parsing {go_quote(s)}: invalid syntax")
    return n


DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s):
    """time.ParseDuration, in seconds."""
    rest, sign, total = s, 1, 0.0
    if rest[:1] in "+-" and rest:
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise CorefileError(f"time: invalid duration {go_quote(s)}")
    while rest:
        i = 0
        while i < len(rest) and rest[i].isdecimal():
            i += 1
        if rest[i:i + 1] == ".":
            i += 1
        while i < len(rest) and rest[i].isdecimal():
            i += 1
        j = i
        while j < len(rest) and not (rest[j].isdecimal() or rest[j] == "."):
            j += 1
        num, unit = rest[:i], rest[i:j]
        if num in ("", "."):
            raise CorefileError(f"time: invalid duration {go_quote(s)}")
        if not unit:
            raise CorefileError(f"time: missing unit in duration {go_quote(s)}")
        if unit not in DURATION_UNITS:
            raise CorefileError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(s)}")
        total += float(num) * DURATION_UNITS[unit]
        rest = rest[j:]
    return sign * total


def format_duration(seconds):
    """Go's Duration.String for the whole seconds, minutes and hours Corefiles use."""
    if seconds == int(seconds) and seconds >= 60:
        h, m, sec = int(seconds) // 3600, int(seconds) % 3600 // 60, int(seconds) % 60
        return (f"{h}h" if h else "") + f"{m}m{sec}s"
    return f"{seconds:g}s"


def split_host_port(hostport):
    """net.SplitHostPort."""
    def fail(why):
        raise CorefileError(f"address {hostport}: {why}")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            fail("missing ']' in address")
        if end + 1 == len(hostport):
            fail("missing port in address")
        if hostport[end + 1] != ":":
            fail("missing port in address")
        return hostport[1:end], hostport[end + 2:]
    colon = hostport.rfind(":")
    if colon < 0:
        fail("missing port in address")
    if ":" in hostport[:colon]:
        fail("too many colons in address")
    return hostport[:colon], hostport[colon + 1:]


def parse_ip(s):
    """ipaddress.ip_address(s) (a zone after % is left out): (version, packed address)."""
    for family, version in ((_socket.AF_INET, 4), (_socket.AF_INET6, 6)):
        try:
            return version, _socket.inet_pton(family, s.split("%")[0])
        except (OSError, ValueError):
            pass
    raise ValueError(f"{s!r} does not appear to be an IPv4 or IPv6 address")


def is_ip(s):
    try:
        parse_ip(s)
        return True
    except ValueError:
        return False


def is_loopback(ip):
    version, packed = parse_ip(ip)
    return packed[0] == 127 if version == 4 else packed == bytes(15) + b"\x01"


def is_unspecified(ip):
    return not any(parse_ip(ip)[1])


def is_link_local(ip):
    version, packed = parse_ip(ip)
    return packed[:2] == b"\xa9\xfe" if version == 4 else packed[0] == 0xFE and packed[1] & 0xC0 == 0x80


# ---------------------------------------------------------------------------------------------
# Caddyfile lexer and parser (coredns/caddy caddyfile/lexer.go, parse.go, dispenser.go).

class Token:
    __slots__ = ("file", "line", "text")

    def __init__(self, file, line, text):
        self.file, self.line, self.text = file, line, text


def lex(text, filename):
    """Words split on whitespace; "quoted words" (only \\" escapes); `#` comments to end of line."""
    tokens, val, line, start = [], None, 1, 0
    quoted = escaped = comment = False
    if text.startswith("\ufeff"):
        text = text[1:]
    for ch in text:
        if quoted:
            if not escaped and ch == "\\":
                escaped = True
                continue
            if not escaped and ch == '"':
                quoted = False
                tokens.append(Token(filename, start, "".join(val)))
                val = None
                continue
            if ch == "\n":
                line += 1
            if escaped and ch != '"':
                val.append("\\")
            val.append(ch)
            escaped = False
            continue
        if ch.isspace():
            if ch == "\r":
                continue
            if ch == "\n":
                line += 1
                comment = False
            if val:
                tokens.append(Token(filename, start, "".join(val)))
            val = None
            continue
        if ch == "#":
            comment = True
        if comment:
            continue
        if not val:
            val, start = [], line
            if ch == '"':
                quoted = True
                continue
        val.append(ch)
    if val:
        tokens.append(Token(filename, start, "".join(val)))
    return tokens


def replace_env(s):
    """{$VAR} and {%VAR%} are replaced by the environment at parse time."""
    for start, end in (("{%", "%}"), ("{$", "}")):
        while True:
            i = s.find(start)
            j = s.find(end, i + len(start)) if i >= 0 else -1
            if i < 0 or j < 0 or j == i + len(start):
                break
            s = s.replace(s[i:j + len(end)], os.environ.get(s[i + len(start):j], ""))
    return s


class Dispenser:
    """A cursor over tokens with caddy's line-aware moves and its error wordings."""

    def __init__(self, filename, tokens):
        self.filename, self.tokens, self.cursor, self.nesting = filename, tokens, -1, 0

    def _breaks(self, i):
        return self.tokens[i].text.count("\n") if 0 <= i < len(self.tokens) else 0

    def next(self):
        if self.cursor < len(self.tokens) - 1:
            self.cursor += 1
            return True
        return False

    def next_arg(self):
        if self.cursor < 0:
            self.cursor += 1
            return True
        c, t = self.cursor, self.tokens
        if c < len(t) - 1 and t[c].file == t[c + 1].file and t[c].line + self._breaks(c) == t[c + 1].line:
            self.cursor += 1
            return True
        return False

    def next_block(self):
        if self.nesting > 0:
            if not self.next():
                return False
            if self.val() == "}":
                self.nesting -= 1
                return False
            return True
        if not self.next_arg():
            return False
        if self.val() != "{":
            self.cursor -= 1
            return False
        if not self.next() or self.val() == "}":
            return False
        self.nesting += 1
        return True

    def remaining_args(self):
        args = []
        while self.next_arg():
            if self.val() == "{":
                self.cursor -= 1
                break
            args.append(self.val())
        return args

    def val(self):
        return self.tokens[self.cursor].text if 0 <= self.cursor < len(self.tokens) else ""

    def line(self):
        return self.tokens[self.cursor].line if 0 <= self.cursor < len(self.tokens) else 0

    def file(self):
        if 0 <= self.cursor < len(self.tokens) and self.tokens[self.cursor].file:
            return self.tokens[self.cursor].file
        return self.filename

    def is_new_line(self):
        c, t = self.cursor, self.tokens
        if c < 1:
            return True
        if c > len(t) - 1:
            return False
        return t[c - 1].file != t[c].file or t[c - 1].line + self._breaks(c - 1) < t[c].line

    def err(self, msg):
        return CorefileError(f"{self.file()}:{self.line()} - Error during parsing: {msg}")

    def arg_err(self):
        if self.val() == "{":
            return self.err("Unexpected token '{', expecting argument")
        return self.err(f"Wrong argument count or unexpected line ending after '{self.val()}'")

    def syntax_err(self, expected):
        return CorefileError(f"{self.file()}:{self.line()} - Syntax error: Unexpected token '{self.val()}', expecting '{expected}'")


class ServerBlock:
    def __init__(self):
        self.keys, self.tokens = [], {}


def _addresses(d, block):
    """Reads the keys of a server block; True when the input ended with them."""
    expecting_another = False
    while True:
        tkn = replace_env(d.val())
        if tkn == "import" and d.is_new_line():
            raise d.err("import is not supported in this lab's CoreDNS")
        if tkn == "{":
            if expecting_another:
                raise d.err(f"Expected another address but had '{tkn}' - check for extra comma")
            return False
        if tkn:
            expecting_another = tkn.endswith(",")
            block.keys.append(tkn[:-1] if expecting_another else tkn)
        has_next = d.next()
        if expecting_another and not has_next:
            raise d.err("Unexpected EOF")
        if not has_next:
            return True
        if not expecting_another and d.is_new_line():
            return False


def _parse_block_contents(d, block, valid_directives):
    opened = d.val() == "{"
    if not opened:
        d.cursor -= 1  # a single server block needs no braces
    while d.next():
        if d.val() == "}":
            break
        if d.val() == "import":
            raise d.err("import is not supported in this lab's CoreDNS")
        _parse_directive(d, block, valid_directives)
    if opened and d.val() != "}":
        raise d.syntax_err("}")


def _parse_directive(d, block, valid_directives):
    name = replace_env(d.val())
    if valid_directives is not None and name not in valid_directives:
        raise d.err(f"Unknown directive '{name}'")
    toks = block.tokens.setdefault(name, [])
    toks.append(d.tokens[d.cursor])
    nesting = 0
    while d.next():
        if d.val() == "{":
            nesting += 1
        elif d.is_new_line() and nesting == 0:
            d.cursor -= 1
            break
        elif d.val() == "}" and nesting > 0:
            nesting -= 1
        elif d.val() == "}":
            raise d.err("Unexpected '}' because no matching opening brace")
        tok = d.tokens[d.cursor]
        toks.append(Token(tok.file, tok.line, replace_env(tok.text)))
    if nesting > 0:
        raise d.err("Unexpected EOF")


def parse_server_blocks(text, filename, valid_directives=DIRECTIVES):
    d = Dispenser(filename, lex(text, filename))
    blocks = []
    while d.next():
        block = ServerBlock()
        if not _addresses(d, block):
            _parse_block_contents(d, block, valid_directives)
        if block.keys:
            blocks.append(block)
    return blocks


def corefile_json(blocks):
    """What plugin/reload compares: the parsed blocks (so comment-only edits do not reload)."""
    data = [{"Keys": b.keys, "Tokens": {k: [{"File": t.file, "Line": t.line, "Text": t.text} for t in v]
                                        for k, v in sorted(b.tokens.items())}} for b in blocks]
    return serving.json_text(data)


def sha512_hex(text):
    """plugin/reload's SHA512 of the parsed Corefile."""
    try:
        from _sha512 import sha512  # the interpreter's own: hashlib's would load OpenSSL for good
    except ImportError:
        from hashlib import sha512
    return sha512(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Server block keys (core/dnsserver/register.go InspectServerBlocks, plugin/normalize.go).

def is_domain_name(s):
    if s in (".", ""):
        return True
    labels = s[:-1].split(".") if s.endswith(".") else s.split(".")
    return all(0 < len(l) <= 63 for l in labels) and len(s) <= 255


def reverse_zone(cidr):
    """10.0.0.0/8 -> 10.in-addr.arpa. (octet-aligned prefixes only, as CoreDNS's simple case)."""
    import ipaddress
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version == 4:
        octets = str(net.network_address).split(".")[: net.prefixlen // 8]
        return ".".join(reversed(octets)) + ".in-addr.arpa."
    nibbles = net.network_address.exploded.replace(":", "")[: net.prefixlen // 4]
    return ".".join(reversed(nibbles)) + ".ip6.arpa."


def normalize_zone(z):
    z = z.lower()
    if "/" in z:
        try:
            return reverse_zone(z)
        except ValueError:
            pass
    return z if z.endswith(".") else z + "."


def split_key(key):
    """`[dns://]zone[:port]` -> (zone, port), with CoreDNS's errors."""
    for scheme in ("tls://", "quic://", "grpc://", "https://"):
        if key.startswith(scheme):
            raise CorefileError(f"{scheme[:-3]} servers are not supported in this lab's CoreDNS: {key}")
    host = key[len("dns://"):] if key.startswith("dns://") else key
    colon = host.rfind(":")
    if colon == len(host) - 1 and colon >= 0:
        raise CorefileError(f"expecting data after last colon: {go_quote(host)}")
    port = ""
    if colon >= 0 and is_int(host[colon + 1:]):
        port, host = str(int(host[colon + 1:])), host[:colon]
    if len(host) > 255:
        raise CorefileError(f"specified zone is too long: {len(host)} > 255")
    if not is_domain_name(host):
        raise CorefileError(f"zone is not a valid domain name: {host}")
    return normalize_zone(host), port or DEFAULT_PORT


# ---------------------------------------------------------------------------------------------
# Plugins: each setup reads its tokens like the upstream plugin and records what dnsmasq needs.

ERR_ONCE = "this plugin can only be used once per Server Block"


class ServerConfig:
    """One zone of one server block, and what its plugins asked for."""

    def __init__(self, zone, port):
        self.zone, self.port = zone, port
        self.kubernetes = None          # {"zones", "pods", "ttl", "fallthrough"}
        self.forwards = []              # [{"from", "upstreams": [(ip, port)], "sequential"}]
        self.cache = None               # {"ttl", "capacity"}
        self.log = None                 # list of names to log (["."] = all)
        self.errors = False
        self.health = None              # (addr, lameduck seconds)
        self.ready = None
        self.prometheus = None
        self.reload = None              # interval seconds
        self.loop = False
        self.bind = []
        self.hosts = []                 # [(file or None, inline lines)]
        self.rewrites = []              # [(from, to)]
        self.ignored = []               # valid plugins this lab does not emulate


class Controller(Dispenser):
    def __init__(self, filename, tokens, zones):
        super().__init__(filename, tokens)
        self.zones = zones

    def origins(self, args):
        return [normalize_zone(a) for a in args] if args else list(self.zones)


def plugin_error(name, err):
    return CorefileError(f"plugin/{name}: {err}")


def setup_kubernetes(c, cfg):
    if cfg.kubernetes is not None:
        raise CorefileError(ERR_ONCE)
    c.next()
    zones = c.origins(c.remaining_args())
    if all(z.endswith("in-addr.arpa.") or z.endswith("ip6.arpa.") for z in zones):
        raise CorefileError("non-reverse zone name must be used")
    k = {"zones": zones, "pods": "disabled", "ttl": 5, "fallthrough": []}
    while c.next_block():
        v = c.val()
        args = c.remaining_args()
        if v == "pods":
            if len(args) != 1:
                raise c.arg_err()
            if args[0] not in ("disabled", "insecure", "verified"):
                raise CorefileError(f"wrong value for pods: {args[0]},  must be one of: disabled, verified, insecure")
            k["pods"] = args[0]
        elif v in ("endpoint_pod_names", "noendpoints"):
            if args:
                raise c.arg_err()
        elif v in ("namespaces", "endpoint", "labels", "namespace_labels"):
            if not args:
                raise c.arg_err()
            cfg.ignored.append(f"kubernetes {v}")
        elif v == "tls":
            if len(args) != 3:
                raise c.arg_err()
        elif v == "fallthrough":
            k["fallthrough"] = [normalize_zone(a) for a in args] or ["."]
        elif v == "ttl":
            if not args:
                raise c.arg_err()
            t = atoi(args[0])
            if t < 0 or t > 3600:
                raise c.err(f"ttl must be in range [0, 3600]: {t}")
            k["ttl"] = t
        elif v == "ignore":
            if args and args[0] != "empty_service":
                raise CorefileError(f"unable to parse ignore value: '{args[0]}'")
        elif v == "kubeconfig":
            if len(args) not in (1, 2):
                raise c.arg_err()
        else:
            raise c.err(f"unknown property '{v}'")
    cfg.kubernetes = k


def resolv_conf_nameservers(path):
    with open(path) as f:
        return [l.split()[1] for l in f if l.split()[:1] == ["nameserver"] and len(l.split()) > 1]


def forward_upstreams(targets):
    """plugin/pkg/parse HostPortOrFile: IPs, ip:port, or resolv.conf-like files."""
    out = []
    for t in targets:
        trans, host = ("dns", t[len("dns://"):]) if t.startswith("dns://") else ("dns", t)
        for scheme in ("tls", "quic", "grpc", "https"):
            if t.startswith(scheme + "://"):
                trans, host = scheme, t[len(scheme) + 3:]
        if not host:
            raise CorefileError(f"invalid address: {go_quote(t)}")
        if trans != "dns":
            raise CorefileError(f"'{trans}' is not supported as a destination protocol in forward: {t}")
        try:
            ip, port = split_host_port(host)
        except CorefileError:
            ip, port = host, None
        if is_ip(ip):
            out.append((ip, port or DEFAULT_PORT))
            continue
        try:
            out.extend((ns, DEFAULT_PORT) for ns in resolv_conf_nameservers(host))
        except OSError:
            raise CorefileError(f"not an IP address or file: {go_quote(host)}")
    if not out:
        raise CorefileError("no nameservers found")
    return out


def setup_forward(c, cfg):
    while c.next():
        if not c.next_arg():
            raise c.arg_err()
        origin = normalize_zone(c.val())
        to = c.remaining_args()
        if not to:
            raise c.arg_err()
        f = {"from": origin, "upstreams": forward_upstreams(to), "sequential": False}
        while c.next_block():
            v = c.val()
            if v == "except":
                if not c.remaining_args():
                    raise c.arg_err()
            elif v in ("max_fails", "max_concurrent", "expire", "health_check", "tls_servername", "policy"):
                if not c.next_arg():
                    raise c.arg_err()
                x = c.val()
                if v == "max_fails":
                    atoi(x, "ParseUint")
                elif v == "max_concurrent" and atoi(x) < 0:
                    raise CorefileError(f"max_concurrent can't be negative: {atoi(x)}")
                elif v in ("expire", "health_check"):
                    if parse_duration(x) < 0:
                        raise CorefileError(f"{v} can't be negative: {x}")
                    if v == "health_check":
                        c.remaining_args()
                elif v == "policy":
                    if x not in ("random", "round_robin", "sequential"):
                        raise c.err(f"unknown policy '{x}'")
                    f["sequential"] = x == "sequential"
            elif v in ("force_tcp", "prefer_udp"):
                if c.next_arg():
                    raise c.arg_err()
            elif v == "tls":
                if len(c.remaining_args()) > 3:
                    raise c.arg_err()
            else:
                raise c.err(f"unknown property '{v}'")
        if len(f["upstreams"]) > 15:
            raise CorefileError(f"more than 15 TOs configured: {len(f['upstreams'])}")
        cfg.forwards.append(f)


def setup_cache(c, cfg):
    if cfg.cache is not None:
        raise CorefileError(ERR_ONCE)
    c.next()
    cache = {"ttl": 3600, "capacity": 9984}
    args = c.remaining_args()
    if args and is_int(args[0]):
        ttl = int(args[0])
        if ttl <= 0:
            raise CorefileError(f"cache TTL can not be zero or negative: {ttl}")
        cache["ttl"] = ttl
    while c.next_block():
        v = c.val()
        args = c.remaining_args()
        if v in ("success", "denial"):
            if not args:
                raise c.arg_err()
            cap = atoi(args[0])
            if v == "success":
                cache["capacity"] = cap
            if len(args) > 1 and atoi(args[1]) <= 0:
                raise CorefileError(f"cache TTL can not be zero or negative: {atoi(args[1])}")
        elif v == "prefetch":
            if not args or len(args) > 3:
                raise c.arg_err()
            if atoi(args[0]) < 0:
                raise CorefileError(f"prefetch amount should be positive: {atoi(args[0])}")
        elif v == "serve_stale":
            if len(args) > 2:
                raise c.arg_err()
        elif v == "servfail":
            if len(args) != 1:
                raise c.arg_err()
            parse_duration(args[0])
        elif v == "disable":
            if not args:
                raise c.arg_err()
            if args[0] not in ("success", "denial"):
                raise CorefileError('cache type for disable must be "success" or "denial"')
        elif v == "keepttl":
            if args:
                raise c.arg_err()
        else:
            raise c.arg_err()
    cfg.cache = cache


def setup_log(c, cfg):
    while c.next():
        args = [a for a in c.remaining_args() if not a.startswith("{")]
        cfg.log = (cfg.log or []) + ([normalize_zone(a) for a in args] or ["."])
        while c.next_block():
            if c.val() != "class":
                raise c.arg_err()
            for cls in c.remaining_args():
                if cls not in ("all", "denial", "error", "success"):
                    raise CorefileError(f"unknown class: {cls}")


def setup_errors(c, cfg):
    c.next()
    if len(c.remaining_args()) > 1:
        raise c.arg_err()
    while c.next_block():
        c.remaining_args()
    cfg.errors = True


def http_addr(c, default):
    args = c.remaining_args()
    if len(args) > 1:
        raise c.arg_err()
    addr = args[0] if args else default
    split_host_port(addr)
    return addr


def setup_health(c, cfg):
    c.next()
    addr, lameduck = http_addr(c, ":8080"), 0.0
    while c.next_block():
        if c.val() != "lameduck":
            raise c.arg_err()
        args = c.remaining_args()
        if len(args) != 1:
            raise c.arg_err()
        try:
            lameduck = parse_duration(args[0])
        except CorefileError as e:
            raise CorefileError(f"unable to parse lameduck duration value: '{args[0]}' : {e}")
    cfg.health = (addr, lameduck)


def setup_ready(c, cfg):
    if cfg.ready is not None:
        raise CorefileError(ERR_ONCE)
    c.next()
    cfg.ready = http_addr(c, ":8181")


def setup_prometheus(c, cfg):
    c.next()
    cfg.prometheus = http_addr(c, "localhost:9153")


def setup_reload(c, cfg):
    c.next()
    args = c.remaining_args()
    if len(args) > 2:
        raise c.arg_err()
    interval = parse_duration(args[0]) if args else 30.0
    if interval < 2:
        raise CorefileError("interval value must be greater or equal to 2s")
    if len(args) > 1 and parse_duration(args[1]) < 1:
        raise CorefileError("jitter value must be greater or equal to 1s")
    cfg.reload = interval


def setup_loop(c, cfg):
    if cfg.loop:
        raise CorefileError(ERR_ONCE)
    c.next()
    if c.next_arg():
        raise c.arg_err()
    cfg.loop = True


def setup_bind(c, cfg):
    while c.next():
        args = c.remaining_args()
        if not args:
            raise c.arg_err()
        cfg.bind += [a for a in args if is_ip(a)]
        while c.next_block():
            if c.val() != "except" or not c.remaining_args():
                raise c.arg_err()


def setup_hosts(c, cfg):
    while c.next():
        args = c.remaining_args()
        path = args[0] if args else "/etc/hosts"
        inline = []
        while c.next_block():
            v = c.val()
            rest = c.remaining_args()
            if v in ("fallthrough", "no_reverse"):
                continue
            if v in ("ttl", "reload"):
                if len(rest) != 1:
                    raise c.arg_err()
                (atoi if v == "ttl" else parse_duration)(rest[0])
                continue
            inline.append(" ".join([v] + rest))
        cfg.hosts.append((path, inline))


def setup_rewrite(c, cfg):
    while c.next():
        args = c.remaining_args()
        if args and args[0] in ("continue", "stop"):
            args = args[1:]
        if not args:
            raise c.arg_err()
        if args[0] == "name" and len(args) >= 3 and args[1] not in ("prefix", "suffix", "substring", "regex"):
            names = args[2:4] if args[1] == "exact" else args[1:3]
            if len(names) == 2:
                cfg.rewrites.append(tuple(n.rstrip(".") for n in names))
                while c.next_block():
                    c.remaining_args()
                continue
        cfg.ignored.append("rewrite " + " ".join(args))
        while c.next_block():
            c.remaining_args()


SETUPS = {
    "kubernetes": setup_kubernetes, "forward": setup_forward, "cache": setup_cache, "log": setup_log,
    "errors": setup_errors, "health": setup_health, "ready": setup_ready, "prometheus": setup_prometheus,
    "reload": setup_reload, "loop": setup_loop, "bind": setup_bind, "hosts": setup_hosts,
    "rewrite": setup_rewrite,
}


def load_config(text, filename):
    """Parses and sets up a Corefile as `caddy.Start` does: the first error wins."""
    blocks = parse_server_blocks(text, filename)
    configs, seen, per_block = [], set(), []
    for b in blocks:
        addrs = [split_key(k) for k in b.keys]
        cfgs = [ServerConfig(z, p) for z, p in addrs]
        for cfg in cfgs:
            key = f"dns://{cfg.zone}:{cfg.port}"
            if key in seen:
                raise CorefileError(f"cannot serve {key} - it is already defined")
            seen.add(key)
        per_block.append((b, cfgs))
        configs += cfgs
    # Plugins run in CoreDNS's directive order, each over every server block, and share one
    # plugin chain per block: set up once, the result holds for each zone of the block.
    for name in DIRECTIVES:
        for b, cfgs in per_block:
            if name not in b.tokens:
                continue
            first = cfgs[0]
            if name in SETUPS:
                try:
                    SETUPS[name](Controller(filename, b.tokens[name], [c.zone for c in cfgs]), first)
                except CorefileError as e:
                    raise plugin_error(name, e)
            elif name not in NO_EFFECT:
                first.ignored.append(name)
            for other in cfgs[1:]:
                other.__dict__.update({k: v for k, v in first.__dict__.items() if k not in ("zone", "port")})
    return blocks, configs


# ---------------------------------------------------------------------------------------------
# What dnsmasq serves.

def records_dir():
    return os.environ.get("COREDNS_RECORDS_DIR", "")


def records_domain(rdir):
    try:
        with open(os.path.join(rdir, "domain")) as f:
            return normalize_zone(f.read().strip() or "cluster.local")
    except OSError:
        return "cluster.local."


def external_cname_targets(rdir, zones):
    """The targets of records.conf's CNAMEs (ExternalName Services) outside the cluster's zones."""
    try:
        with open(os.path.join(rdir, "records.conf")) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    targets = [ln.split(",")[-1] for ln in lines if ln.startswith("cname=")]
    inside = lambda t: any(z == "." or f"{t}.".endswith(f".{z}") or f"{t}." == z for z in zones)
    return sorted({t for t in targets if t and not inside(t)})


def query_a(name, upstreams, timeout):
    """The IPv4 addresses an upstream answers for name (following its CNAMEs), or [] on no answer.
    A DNS query of our own (RFC 1035), UDP, one attempt per upstream until one answers."""
    qid = os.urandom(2)
    question = b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.rstrip(".").split(".")) + b"\0\0\1\0\1"
    packet = qid + b"\1\0\0\1\0\0\0\0\0\0" + question
    for ip, port in upstreams:
        sock = _socket.socket(_socket.AF_INET6 if ":" in ip else _socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            sock.settimeout(timeout)
            sock.sendto(packet, (ip, int(port)))
            data = sock.recv(4096)
        except OSError:
            continue
        finally:
            sock.close()
        if data[:2] != qid or len(data) < 12:
            continue
        count, at = int.from_bytes(data[6:8], "big"), 12 + len(question)
        found = []
        for _ in range(count):
            while at < len(data) and data[at] and data[at] < 0xC0:
                at += data[at] + 1
            at += 2 if at < len(data) and data[at] >= 0xC0 else 1
            rtype, rdlen = int.from_bytes(data[at:at + 2], "big"), int.from_bytes(data[at + 8:at + 10], "big")
            if rtype == 1 and rdlen == 4:
                found.append(".".join(str(b) for b in data[at + 10:at + 14]))
            at += 10 + rdlen
        return found
    return []


ADDRESS_CHARS = "0123456789abcdefABCDEF.:"


def local_addresses():
    """The pod's addresses CoreDNS answers on (dnsmasq binds them; loopback is left out)."""
    try:
        code, out = serving.run_captured(["ip", "-o", "addr", "show"], stderr=False)
    except OSError:
        code = 1
    if code:
        return ["127.0.0.1"]
    addrs = []
    for line in out.decode().splitlines():
        words = line.split(" ")
        for word, address in zip(words, words[1:]):
            ip, slash, length = address.partition("/")
            if word in ("inet", "inet6") and ip and all(c in ADDRESS_CHARS for c in ip) and slash and length[:1].isdecimal():
                if not (is_loopback(ip) or is_link_local(ip) or is_unspecified(ip)):
                    addrs.append(ip)
    return addrs or ["127.0.0.1"]


def dname(zone):
    return zone.rstrip(".")


def external_answers(c, rdir):
    """The ExternalName targets outside the cluster's zones, each with the addresses this block's
    upstreams give for it ([] where none answers)."""
    upstreams = [u for f in c.forwards if f["from"] == "." for u in f["upstreams"]]
    return [(t, query_a(t, upstreams, FORWARD_READ_TIMEOUT / 4)) for t in external_cname_targets(rdir, c.kubernetes["zones"])]


def dnsmasq_config(cfgs, listen, runtime):
    """The dnsmasq configuration for the server blocks on one port, and the ExternalName answers
    it was written with: [(block, external_answers)]."""
    port = cfgs[0].port
    external = []
    lines = ["no-resolv", "no-hosts", "no-poll", "log-queries=extra", "bind-interfaces", f"port={port}"]
    # CoreDNS's forward closes an upstream connection whose read timed out and dials a new one for
    # the next try: a new source port, so a new conntrack entry, NATed by the rules in force then.
    # dnsmasq sends every retry of a query still waiting from the socket it first used, unless
    # port-limit lets it take new ones; conntrack would then keep that flow's first translation
    # (none, before a masquerade rule is restored) for as long as the retries keep coming.
    lines.append(f"port-limit={UPSTREAM_PORTS_PER_QUERY}")
    lines += [f"listen-address={a}" for a in sorted({b for c in cfgs for b in c.bind} or listen)]
    caches = [c.cache for c in cfgs if c.cache]
    if caches:
        lines += [f"cache-size={max(c['capacity'] for c in caches)}", f"max-cache-ttl={min(c['ttl'] for c in caches)}"]
    else:
        lines.append("cache-size=0")
    if any(c.forwards and any(f["sequential"] for f in c.forwards) for c in cfgs):
        lines.append("strict-order")
    if any(c.loop for c in cfgs):
        lines.append("dns-loop-detect")
    rdir = records_dir()
    for c in cfgs:
        k = c.kubernetes
        if k and c is next(x for x in cfgs if x.kubernetes is k):
            lines.append(f"local-ttl={k['ttl']}")
            for z in k["zones"]:
                if z != "." and z not in k["fallthrough"] and "." not in k["fallthrough"]:
                    lines.append(f"local=/{dname(z)}/")
            primary = next(z for z in k["zones"] if not z.endswith("arpa."))
            if primary != ".":
                lines.append(f"txt-record=dns-version.{dname(primary)},1.1.0")
            if rdir and records_domain(rdir) == primary:
                # A reverse query answers from the hostsdir given last: Service and endpoint names
                # win over pod names, as in CoreDNS (which has no PTR for pods at all).
                if k["pods"] != "disabled":
                    lines.append(f"hostsdir={os.path.join(rdir, 'pods')}")
                lines.append(f"hostsdir={os.path.join(rdir, 'hosts')}")
                if os.path.exists(os.path.join(rdir, "records.conf")):
                    lines.append(f"conf-file={os.path.join(rdir, 'records.conf')}")
                    # CoreDNS answers an ExternalName with the CNAME and the target's addresses, which
                    # it resolves through its own forward; dnsmasq only follows a CNAME to a name it
                    # knows, so the targets are resolved here, through this block's upstreams.
                    known = external_answers(c, rdir)
                    external.append((c, known))
                    if any(a for _, a in known):
                        p = os.path.join(runtime, f"external-{port}")
                        with open(p, "w") as fh:
                            fh.write("".join(f"{ip}\t{t}\n" for t, a in known for ip in a))
                        lines.append(f"addn-hosts={p}")
        for f in c.forwards:
            domain = f["from"] if f["from"] != "." else c.zone
            for ip, p in f["upstreams"]:
                target = ip if p == DEFAULT_PORT else f"{ip}#{p}"
                lines.append(f"server={target}" if domain == "." else f"server=/{dname(domain)}/{target}")
        for i, (path, inline) in enumerate(c.hosts):
            if os.path.exists(path):
                lines.append(f"addn-hosts={path}")
            if inline:
                p = os.path.join(runtime, f"hosts-{port}-{c.zone}-{i}")
                with open(p, "w") as fh:
                    fh.write("\n".join(inline) + "\n")
                lines.append(f"addn-hosts={p}")
        lines += [f"cname={a},{b}" for a, b in c.rewrites]
    return "\n".join(dict.fromkeys(lines)) + "\n", external


def self_loop(cfgs, listen):
    """A forward to CoreDNS itself: what the loop plugin's probe query finds (CoreDNS listens on
    every address, loopback included)."""
    for c in cfgs:
        if not c.loop:
            continue
        for f in c.forwards:
            for ip, p in f["upstreams"]:
                loopback = is_loopback(ip)
                if p == c.port and (loopback or is_unspecified(ip) or ip in listen):
                    return c, ("127.0.0.1" if loopback else ip)
    return None


def random_bits(n):
    return int.from_bytes(os.urandom(8), "big") >> (64 - n)


def ephemeral_port():
    """A source port as Linux picks them, for messages that name one."""
    return 32768 + int.from_bytes(os.urandom(4), "big") % (60999 - 32768 + 1)


def loop_fatal(cfg, source):
    qname = f"{random_bits(63)}.{random_bits(63)}.{'' if cfg.zone == '.' else cfg.zone}"
    return (f'[FATAL] plugin/loop: Loop ({source}:{ephemeral_port()} -> :{cfg.port}) detected for zone '
            f'"{cfg.zone}", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO {qname}"')


# ---------------------------------------------------------------------------------------------
# Running: dnsmasq children, their logs rewritten, the HTTP side ports, reload.

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Metrics:
    def __init__(self):
        self.requests, self.responses, self.reload_failed = {}, {}, 0

    def count(self, server, zone, proto, qtype, rcode):
        k = (server, zone, proto, qtype)
        self.requests[k] = self.requests.get(k, 0) + 1
        k = (server, zone, rcode)
        self.responses[k] = self.responses.get(k, 0) + 1

    def render(self, configs):
        lines = ["# HELP coredns_build_info A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
                 "# TYPE coredns_build_info gauge",
                 f'coredns_build_info{{goversion="{GO_VERSION}",revision="{GIT_COMMIT}",version="{VERSION}"}} 1',
                 "# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.",
                 "# TYPE coredns_dns_requests_total counter"]
        lines += [f'coredns_dns_requests_total{{family="1",proto="{p}",server="{s}",type="{t}",view="",zone="{z}"}} {n}'
                  for (s, z, p, t), n in sorted(self.requests.items())]
        lines += ["# HELP coredns_dns_responses_total Counter of response status codes.",
                  "# TYPE coredns_dns_responses_total counter"]
        lines += [f'coredns_dns_responses_total{{plugin="",rcode="{r}",server="{s}",view="",zone="{z}"}} {n}'
                  for (s, z, r), n in sorted(self.responses.items())]
        lines += ["# HELP coredns_plugin_enabled A metric that indicates whether a plugin is enabled on per server and zone basis.",
                  "# TYPE coredns_plugin_enabled gauge"]
        for c in configs:
            for name in [n for n in SETUPS if getattr(c, n, None) or getattr(c, n + "s", None)]:
                lines.append(f'coredns_plugin_enabled{{name="{name}",server="dns://:{c.port}",view="",zone="{c.zone}"}} 1')
        lines += ["# HELP coredns_reload_failed_total Counter of the number of failed reload attempts.",
                  "# TYPE coredns_reload_failed_total counter", f"coredns_reload_failed_total {self.reload_failed}"]
        return "\n".join(lines) + "\n"


def spawn(argv):
    """subprocess.Popen(argv, stdin=DEVNULL, stdout=PIPE, stderr=STDOUT) whose child is killed if
    this process dies (PR_SET_PDEATHSIG), as a container's processes are: (pid, stdout)."""
    r, w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(w, 1)
            os.dup2(w, 2)
            for signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
                _signal.signal(signum, _signal.SIG_DFL)
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, _signal.SIGKILL)
            os.execvp(argv[0], argv)
        except OSError as err:
            os.write(report_w, str(err.errno).encode())
        finally:
            os._exit(255)
    os.close(w)
    os.close(report_w)
    failure = os.read(report_r, 16)
    os.close(report_r)
    if failure:
        os.close(r)
        os.waitpid(pid, 0)
        code = int(failure)
        raise OSError(code, os.strerror(code), argv[0])
    return pid, r


def query_line(line):
    """dnsmasq[<pid>]: <serial> <address>/<port> <rest>: those fields, or None."""
    if not line.startswith("dnsmasq["):
        return None
    end = line.find("]: ")
    pid, fields = line[8:end], line[end + 3:].split(" ", 2)
    if end < 0 or not pid.isdecimal() or len(fields) < 3 or not fields[0].isdecimal():
        return None
    addr, slash, port = fields[1].partition("/")
    if not addr or not all(c in ADDRESS_CHARS for c in addr) or not slash or not port.isdecimal():
        return None
    return pid, fields[0], addr, port, fields[2]


def is_word(s):
    return s != "" and all(c.isalnum() or c == "_" for c in s)


class Dnsmasq:
    """One dnsmasq for one port; its query log becomes CoreDNS's `log` and `errors` output."""

    def __init__(self, app, cfgs, conf_path):
        self.app, self.cfgs, self.conf_path = app, cfgs, conf_path
        self.server = f"dns://:{cfgs[0].port}"
        self.pending = {}
        self.stopping = self.exited = self.started = False
        self.failure = self.returncode = None
        self.partial = b""
        self.pid, self.fd = spawn(
            ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--user=root", "--group=", "--pid-file=",
             f"--conf-file={conf_path}"])
        app.loop.watch(self.fd, serving.IN, self._readable)

    def wait_started(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not (self.started or self.exited):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                break
            self._readable()
        if self.exited or not self.started:
            self.stop()
            raise CorefileError(self.failure or "dnsmasq did not start")

    def _block_for(self, name):
        best = None
        for c in self.cfgs:
            z = c.zone
            if z == "." or name == z or name.endswith("." + z):
                if best is None or len(z) > len(best.zone):
                    best = c
        return best

    def _readable(self, _events=0):
        data = os.read(self.fd, 65536)
        if not data:
            self._ended()
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"))

    def _ended(self):
        if self.partial:
            self._line(self.partial.decode("utf-8", "replace"))
        self.app.loop.unwatch(self.fd)
        os.close(self.fd)
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self.exited = True
        if not self.stopping:
            self.app.child_died(self)

    def _line(self, line):
        if "started, version" in line:
            self.started = True
        elif "failed to create listening socket" in line or line.startswith("dnsmasq: "):
            port = self.cfgs[0].port
            why = "bind: address already in use" if "in use" in line else line.split(": ", 1)[-1]
            self.failure = f"Listen: listen tcp :{port}: {why}"
        elif "query loop detected" in line:
            self.app.loop_detected(self, line)
        else:
            self._query_line(line)

    def _query_line(self, line):
        m = query_line(line)
        if not m:
            return
        pid, serial, addr, port, rest = m
        key = (pid, serial)
        now = time.monotonic()
        words = rest.split(" ")
        if rest.startswith("query[") and "] " in rest:
            qtype, _, tail = rest[6:].partition("] ")
            name, _, tail = tail.partition(" ")
            if is_word(qtype) and name and not any(c.isspace() for c in name) and tail.startswith("from"):
                self.pending[key] = {"type": qtype, "name": name, "addr": addr, "port": port, "start": now,
                                     "proto": "udp" if int(pid) == self.pid else "tcp", "upstream": None}
                self.app.expiring()
                return
        p = self.pending.get(key)
        if p is None or len(words) < 4 or not all(words[:4]):
            return
        if words[0] == "forwarded" and words[2] == "to":
            p["upstream"] = words[3]
            return
        if words[2] != "is":
            return
        del self.pending[key]
        value, source = words[3], words[0]
        rcode = {"NXDOMAIN": "NXDOMAIN", "REFUSED": "REFUSED", "SERVFAIL": "SERVFAIL"}.get(value, "NOERROR")
        flags = "qr,rd,ra" if source in ("reply", "cached") else "qr,aa,rd"
        self._finish(p, rcode, flags, now)

    def _finish(self, p, rcode, flags, now):
        name = p["name"].rstrip(".") + "."
        cfg = self._block_for(name)
        if cfg is None:
            return
        self.app.metrics.count(self.server, cfg.zone, p["proto"], p["type"], rcode)
        if cfg.log and any(z == "." or name == z or name.endswith("." + z) for z in cfg.log):
            remote = f"[{p['addr']}]" if ":" in p["addr"] else p["addr"]
            dur = f"{now - p['start']:.9f}".rstrip("0").rstrip(".") + "s"
            # dnsmasq does not log the message id, the sizes or EDNS: those fields print as "-".
            out(f'[INFO] {remote}:{p["port"]} - - "{p["type"]} IN {name} {p["proto"]} - false -" {rcode} {flags} - {dur}')

    def expire(self):
        """Forwarded queries the upstream never answered: CoreDNS's errors plugin reports them."""
        now = time.monotonic()
        late = [k for k, p in self.pending.items() if now - p["start"] > FORWARD_READ_TIMEOUT]
        for p in [self.pending.pop(k) for k in late]:
            name = p["name"].rstrip(".") + "."
            cfg = self._block_for(name)
            if p["upstream"] and cfg and cfg.errors:
                local = self.app.listen[0]
                out(f"[ERROR] plugin/errors: 2 {name} {p['type']}: read udp {local}:{ephemeral_port()}"
                    f"->{p['upstream']}:53: i/o timeout")

    def stop(self):
        """SIGTERM, SIGKILL after 5 s; what it logged meanwhile is still read."""
        self.stopping = True
        if self.exited:
            return
        if self.returncode is None:
            os.kill(self.pid, _signal.SIGTERM)
            deadline = time.monotonic() + 5
            while True:
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(self.pid, _signal.SIGKILL)
                    status = os.waitpid(self.pid, 0)[1]
                    break
                time.sleep(0.005)
            self.returncode = os.waitstatus_to_exitcode(status)
        while not self.exited:
            if not select.select([self.fd], [], [], 0.1)[0]:
                # A child of dnsmasq (one per DNS-over-TCP client) still holds the pipe.
                self.app.loop.unwatch(self.fd)
                os.close(self.fd)
                self.exited = True
                break
            self._readable()


class TextHandler(serving.Handler):
    routes = {}

    def do_GET(self):
        route = self.routes.get(self.server.port, {}).get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        code, body = route()
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.write(data)


def runtime_dir():
    """tempfile.mkdtemp(prefix="coredns-"): a new private directory in the temporary directory."""
    candidates = [os.environ[v] for v in ("TMPDIR", "TEMP", "TMP") if os.environ.get(v)]
    candidates += ["/tmp", "/var/tmp", "/usr/tmp", os.getcwd()]
    letters = "abcdefghijklmnopqrstuvwxyz0123456789_"
    for base in candidates:
        for _ in range(100):
            path = os.path.join(os.path.abspath(base), "coredns-" + "".join(letters[b % len(letters)] for b in os.urandom(8)))
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:
                continue
            except OSError:
                break
    raise FileNotFoundError(errno.ENOENT, f"No usable temporary directory found in {candidates}")


class App:
    def __init__(self, path):
        self.path = path
        self.loop = serving.Loop()
        self.metrics = Metrics()
        self.fatal, self.stopping, self.code = None, False, 0
        self.children, self.http = [], {}
        self.timers = {}
        self.runtime = runtime_dir()
        self.listen = local_addresses()
        if records_dir():
            # dnsmasq watches only hostsdirs that exist when it starts.
            for sub in ("hosts", "pods"):
                os.makedirs(os.path.join(records_dir(), sub), exist_ok=True)
        self.ready = False

    # -- configuration -------------------------------------------------------------------------
    def read(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def start(self, configs):
        by_port = {}
        for c in configs:
            by_port.setdefault(c.port, []).append(c)
        children, external = [], []
        try:
            for port, cfgs in by_port.items():
                conf = os.path.join(self.runtime, f"dnsmasq-{port}.conf")
                text, answers = dnsmasq_config(cfgs, self.listen, self.runtime)
                external += answers
                with open(conf, "w") as f:
                    f.write(text)
                child = Dnsmasq(self, cfgs, conf)
                children.append(child)
                child.wait_started()
        except CorefileError:
            for c in children:
                c.stop()
            raise
        self.children, self.configs = children, configs
        self.records_state = self.records_fingerprint()
        self.external, self.external_at = external, time.monotonic()
        self.serve_http(configs)
        self.ready = True

    def stop_children(self):
        for c in self.children:
            c.stop()
        self.children = []

    def serve_http(self, configs):
        routes = {}
        for c in configs:
            if c.health:
                routes.setdefault(c.health[0], {})["/health"] = lambda: (200, "OK")
            if c.ready:
                routes.setdefault(c.ready, {})["/ready"] = lambda: (200, "OK") if self.ready else (503, "")
            if c.prometheus:
                routes.setdefault(c.prometheus, {})["/metrics"] = lambda: (200, self.metrics.render(self.configs))
        for addr in [a for a in self.http if a not in routes]:
            self.http.pop(addr).close()
        TextHandler.routes = {}
        for addr, paths in routes.items():
            host, port = split_host_port(addr)
            TextHandler.routes[int(port)] = paths
            if addr not in self.http:
                sock = serving.tcp_listener(_socket.AF_INET, ("" if host in ("", "localhost") else host, int(port)))
                server = serving.HTTPServer(self.loop, sock, TextHandler)
                server.port = int(port)
                self.http[addr] = server

    def records_fingerprint(self):
        rdir = records_dir()
        parts = []
        for name in ("records.conf", "domain"):
            try:
                with open(os.path.join(rdir, name), "rb") as f:
                    parts.append(f.read())
            except OSError:
                parts.append(None)
        return tuple(parts) if rdir else ()

    # -- events ---------------------------------------------------------------------------------
    def child_died(self, child):
        if child in self.children:
            self.stop((1, f"[FATAL] dnsmasq for {child.server} exited with status {child.returncode}"))

    def loop_detected(self, child, line):
        cfg = next((c for c in child.cfgs if c.loop), None)
        if cfg is not None:
            self.stop((1, loop_fatal(cfg, self.listen[0])))

    def every(self, name, seconds, check):
        """Runs check every `seconds` until the servers stop; check returns its next interval."""
        def tick():
            del self.timers[name]
            interval = check()
            if interval and not self.stopping:
                self.timers[name] = self.loop.later(interval, tick)
        self.timers[name] = self.loop.later(seconds, tick)

    def expiring(self):
        """A query is pending: forwarded ones time out after FORWARD_READ_TIMEOUT."""
        if "expire" not in self.timers and not self.stopping:
            def expire():
                for child in self.children:
                    child.expire()
                return 0.05 if any(child.pending for child in self.children) else None
            self.every("expire", 0.05, expire)

    def check_reload(self, state):
        """plugin/reload: a changed Corefile is re-parsed; a broken one leaves the old one serving."""
        try:
            text = self.read()
            if text == state["text"]:
                return
            state["text"] = text
            blocks = parse_server_blocks(text, self.path, valid_directives=None)
        except OSError:
            return
        except CorefileError as e:
            if state.get("warned") != str(e):
                out(f"[WARNING] plugin/reload: Corefile parse failed: {e}")
                state["warned"] = str(e)
            return
        parsed = corefile_json(blocks)
        if parsed == state["parsed"]:
            return
        state["parsed"], state["warned"] = parsed, None
        out("[INFO] Reloading")
        try:
            _, configs = load_config(text, self.path)
            old = self.configs
            self.stop_children()
            try:
                self.start(configs)
            except CorefileError:
                self.start(old)
                raise
        except CorefileError as e:
            msg = f"starting with listener file descriptors: {e}"
            out(f"[ERROR] Restart failed: {msg}")
            out(f"[ERROR] plugin/reload: Corefile changed but reload failed: {msg}")
            self.metrics.reload_failed += 1
            return
        self.report_ignored(configs)
        if any(c.reload for c in configs):
            out(f"[INFO] plugin/reload: Running configuration SHA512 = {sha512_hex(parsed)}")
        out("[INFO] Reloading complete")
        looping = self_loop(configs, self.listen)
        if looping:
            self.stop((1, loop_fatal(*looping)))

    def reload_interval(self):
        reload_every = min([c.reload for c in self.configs if c.reload] or [0])
        return reload_every and min(reload_every, RELOAD_POLL_SECONDS)

    def external_changed(self):
        """CoreDNS resolves an ExternalName's target at each query, dnsmasq was given the answers
        once: they are asked again, every second while a target has no address (a misspelled name,
        or an upstream that did not answer in time), else every 30 s, the cache's TTL."""
        wait = 1 if any(not a for _, known in self.external for _, a in known) else 30
        if not self.external or time.monotonic() - self.external_at < wait:
            return False
        self.external_at = time.monotonic()
        return [(c, external_answers(c, records_dir())) for c, _ in self.external] != self.external

    def check_records(self):
        state = self.records_fingerprint()
        if state != self.records_state or self.external_changed():
            configs = self.configs
            self.stop_children()
            self.start(configs)

    def report_ignored(self, configs):
        for c in configs:
            for what in dict.fromkeys(c.ignored):
                out(f"[WARNING] {what}: not emulated by this lab's CoreDNS, ignored")

    # -- main loop ------------------------------------------------------------------------------
    def run(self):
        try:
            text = self.read()
        except OSError as e:
            fatal(f"open {self.path}: {e.strerror.lower()}")
        try:
            blocks, configs = load_config(text, self.path)
            self.start(configs)
        except CorefileError as e:
            fatal(str(e))
        for c in configs:
            out(f"{c.zone}:{c.port}")
        parsed = corefile_json(parse_server_blocks(text, self.path, valid_directives=None))
        if any(c.reload for c in configs):
            out(f"[INFO] plugin/reload: Running configuration SHA512 = {sha512_hex(parsed)}")
        out(f"CoreDNS-{VERSION}")
        out(f"linux/amd64, {GO_VERSION}, {GIT_COMMIT}")
        self.report_ignored(configs)
        looping = self_loop(configs, self.listen)
        if looping:
            self.stop((1, loop_fatal(*looping)))
        if not self.stopping:
            reload_state = {"text": text, "parsed": parsed, "warned": None}

            def reload():
                self.check_reload(reload_state)
                return self.reload_interval()

            def records():
                try:
                    self.check_records()
                except CorefileError as e:
                    self.stop((1, str(e)))
                return RECORDS_POLL_SECONDS
            if self.reload_interval():
                self.every("reload", 0.05, reload)
            self.every("records", 0.05, records)
        self.loop.run()
        sys.exit(self.code)

    def on_signal(self, signum):
        if signum == _signal.SIGTERM:
            out("[INFO] SIGTERM: Shutting down servers then terminating")
        else:
            out("[INFO] SIGINT: Shutting down")
        self.stop()

    def stop(self, fatal=None):
        """Stops serving: at once on a fatal error, after health's lameduck period otherwise."""
        if self.stopping:
            return
        self.stopping = True
        for timer in self.timers.values():
            self.loop.cancel(timer)
        self.loop.soon(lambda: self._stop(fatal))

    def _stop(self, fatal):
        self.code, message = fatal or (0, None)
        if message:
            out(message)
        lameduck = 0 if fatal else max([c.health[1] for c in self.configs if c.health] or [0])
        if lameduck > 0:
            # plugin/health: keeps answering for the lameduck period before the servers stop.
            out(f"[INFO] plugin/health: Going into lameduck mode for {format_duration(lameduck)}")
            self.loop.later(lameduck, self.shutdown)
        else:
            self.shutdown()

    def shutdown(self):
        self.stop_children()
        for server in self.http.values():
            server.close()
        self.loop.stop()


def fatal(message):
    """coremain's mustLogFatal: the bare error on stderr, exit status 1."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    sys.exit(1)


def parse_flags(argv):
    """Go's flag package: -conf FILE, -conf=FILE, --conf FILE; -version."""
    conf, i = "", 0
    while i < len(argv):
        a = argv[i]
        name, _, value = a.lstrip("-").partition("=")
        if not a.startswith("-"):
            fatal(f"extra command line arguments: [{' '.join(argv[i:])}]")
        if name == "conf":
            if not value:
                i += 1
                if i >= len(argv):
                    sys.stderr.write("flag needs an argument: -conf\n")
                    sys.exit(2)
                value = argv[i]
            conf = value
        elif name == "version":
            out(f"CoreDNS-{VERSION}\nlinux/amd64, {GO_VERSION}, {GIT_COMMIT}")
            sys.exit(0)
        else:
            sys.stderr.write(f"flag provided but not defined: -{name}\n")
            sys.exit(2)
        i += 1
    return conf or "Corefile"


def main():
    app = App(parse_flags(sys.argv[1:]))
    for signum in (_signal.SIGTERM, _signal.SIGINT):
        app.loop.on_signal(signum, lambda signum=signum: app.on_signal(signum))
    try:
        app.run()
    finally:
        app.stop_children()
        import shutil
        shutil.rmtree(app.runtime, ignore_errors=True)
