#!/usr/bin/env python3
# agnhost as netdojo's netns lab runs it: the program behind the image
# registry.k8s.io/e2e-test-images/agnhost (ENTRYPOINT /agnhost, CMD pause), written anew in Python
# (stdlib only) from the behaviour of upstream's test/images/agnhost. Subcommands, flags, HTTP/UDP
# answers, log lines, stderr prefixes and exit codes follow upstream's, because the Kubernetes e2e
# suites and learners' scripts parse them:
#   netexec         HTTP /, /hostname, /hostName, /echo, /clientip, /shell, /healthz, /exit,
#                   /shutdown, /redirect, /dial; UDP "hostname", "echo <msg>", "clientip"
#   serve-hostname  the hostname over HTTP (default), raw TCP and/or UDP
#   connect         one TCP/UDP connection attempt; stderr TIMEOUT/REFUSED/DNS/OTHER/UNKNOWN, exit 1
#   porter          serves the value of every SERVE_PORT_<n>/SERVE_TCP_PORT_<n>/SERVE_UDP_PORT_<n>
#   liveness        healthy for 10 s on :8080/healthz, then 500
#   pause           prints "Paused"; exits 1 on SIGINT, 2 on SIGTERM
# Not here: SCTP (flags accepted, nothing served), /upload, and agnhost's other subcommands.
# The hostname is the process's UTS hostname: the kubelet sets it to the pod's name.
import errno
import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from html import escape

STARTED = time.monotonic()


# ---- Go-compatible output -------------------------------------------------------------------

def log(msg):
    """Go's log.Printf: stderr, local date and time, one line."""
    sys.stderr.write(time.strftime("%Y/%m/%d %H:%M:%S ") + msg.rstrip("\n") + "\n")
    sys.stderr.flush()


def fatal(msg):
    """Go's log.Fatalf: the line, then exit status 1."""
    log(msg)
    os._exit(1)


def go_json(obj):
    """encoding/json.Marshal of a map: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def go_addr(addr):
    """net.Addr.String(): "ip:port", "[v6]:port"; IPv4-mapped addresses print as IPv4."""
    host, port = addr[0], addr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def go_strerror(code):
    """syscall.Errno.Error(): glibc's text, lower-cased first letter."""
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def go_duration(seconds):
    """time.Duration.String() for non-negative durations."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        for unit, scale in (("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
            if seconds * scale >= 1 or unit == "ns":
                return ("%.6f" % (seconds * scale)).rstrip("0").rstrip(".") + unit
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = ("%.9f" % secs).rstrip("0").rstrip(".") + "s"
    if hours or minutes:
        text = "%dm" % minutes + text
    if hours:
        text = "%dh" % hours + text
    return text


DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)")


def parse_duration(text):
    """time.ParseDuration, in seconds."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body):
        m = DURATION_PART.match(body, pos)
        if not m or m.group(1) in ("", ".") or m.group(2) not in DURATION_UNITS:
            raise ValueError('time: invalid duration "%s"' % text)
        total += float(m.group(1)) * DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not body:
        raise ValueError('time: invalid duration "%s"' % text)
    return -total if text.startswith("-") else total


def go_atoi(text):
    """strconv.Atoi with its error text."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError('strconv.Atoi: parsing "%s": invalid syntax' % text)
    return int(text)


def hostname():
    return socket.gethostname()


# ---- cobra/pflag-style command lines ----------------------------------------------------------

def parse_flags(command, argv, spec, max_args=0, exact_args=None):
    """Parses --name=value / --name value / --bool flags as pflag does; exits 1 like cobra on errors."""
    values = {name: default for name, (_, default) in spec.items()}
    args = []
    i = 0

    def usage_error(msg):
        sys.stderr.write("Error: %s\nRun 'agnhost %s --help' for usage.\n" % (msg, command))
        sys.exit(1)

    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            args.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-":
            args.append(arg)
            continue
        if not arg.startswith("--"):
            usage_error("unknown shorthand flag: '%s' in %s" % (arg[1:2], arg))
        name, has_value, value = arg[2:].partition("=")
        if name not in spec:
            usage_error("unknown flag: --%s" % name)
        kind = spec[name][0]
        if kind is bool:
            value = value if has_value else "true"
            if value not in ("true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"):
                usage_error('invalid argument "%s" for "--%s" flag: strconv.ParseBool: parsing "%s": invalid syntax'
                            % (value, name, value))
            values[name] = value in ("true", "1", "t", "TRUE", "True")
            continue
        if not has_value:
            if i >= len(argv):
                usage_error("flag needs an argument: --%s" % name)
            value = argv[i]
            i += 1
        if kind is int and not re.fullmatch(r"[+-]?[0-9]+", value):
            usage_error('invalid argument "%s" for "--%s" flag: strconv.ParseInt: parsing "%s": invalid syntax'
                        % (value, name, value))
        try:
            values[name] = int(value) if kind is int else parse_duration(value) if kind == "duration" else value
        except ValueError as err:
            usage_error('invalid argument "%s" for "--%s" flag: %s' % (value, name, err))
    if exact_args is not None and len(args) != exact_args:
        usage_error("accepts %d arg(s), received %d" % (exact_args, len(args)))
    if exact_args is None and len(args) > max_args:
        usage_error("accepts at most %d arg(s), received %d" % (max_args, len(args)))
    return values, args


# ---- HTTP serving (Go net/http-like answers) --------------------------------------------------

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, app, family):
        self.address_family = family
        self.app = app
        super().__init__(addr, Handler, bind_and_activate=False)
        if family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.server_bind()
        self.server_activate()

    def server_bind(self):
        # http.server reverse-resolves its address here (socket.getfqdn) and stalls without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def listen_http(port, app, host=None, tls=None):
    """Go's ListenAndServe on ":port" (all addresses, IPv6 and IPv4) or on host:port."""
    if host is None:
        try:
            server = Server(("::", port), app, socket.AF_INET6)
        except OSError as err:
            if err.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                raise
            server = Server(("0.0.0.0", port), app, socket.AF_INET)
    else:
        server = Server((host, port), app, socket.AF_INET6 if ":" in host else socket.AF_INET)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server


def serve_in_background(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_response(self, code, message=None):
        # Go's server sends Date but no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        self.route = url.path
        self.query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.form = self.read_form()
        self.server.app(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any

    def read_form(self):
        """The request body; a urlencoded POST/PUT/PATCH form feeds FormValue like Go's."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.command in ("POST", "PUT", "PATCH") and ctype == "application/x-www-form-urlencoded":
            return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {}

    def value(self, name):
        """http.Request.FormValue: the form body first, then the query."""
        for source in (self.form, self.query):
            if name in source:
                return source[name][0]
        return ""

    @property
    def client(self):
        return go_addr(self.client_address)

    def reply(self, status=200, body="", ctype="text/plain; charset=utf-8", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        if data and ctype:
            self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status, text):
        """http.Error: the text and a newline, nosniff."""
        self.reply(status, text + "\n", headers=(("X-Content-Type-Options", "nosniff"),))

    def redirect(self, location, code):
        """http.Redirect: Location, and a small HTML body for GET."""
        body = '<a href="%s">%s</a>.\n\n' % (escape(location), http.client.responses.get(code, "")) \
            if self.command == "GET" else ""
        self.reply(code, body, "text/html; charset=utf-8", (("Location", location),))


# ---- UDP ---------------------------------------------------------------------------------------

def bind_udp(port, host=""):
    """A UDP socket on host:port; "" is every address, IPv6 and IPv4."""
    if host == "":
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            return sock
        except OSError:
            host = "0.0.0.0"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    return sock


# ---- netexec -----------------------------------------------------------------------------------

class Netexec:
    def __init__(self, flags):
        self.flags = flags
        self.udp_ready = threading.Event()
        self.server = None
        self.routes = {
            "/clientip": self.clientip, "/dial": self.dial, "/echo": self.echo, "/exit": self.exit,
            "/healthz": self.healthz, "/hostname": self.hostname, "/hostName": self.hostname,
            "/redirect": self.redirect, "/shell": self.shell, "/shutdown": self.shutdown,
        }

    def app(self, req):
        if self.flags["http-override"]:
            url = urllib.parse.urlsplit(self.flags["http-override"])
            req.route, req.query, req.form = url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True), {}
        self.routes.get(req.route, self.root)(req)

    def root(self, req):
        now = datetime.now(timezone.utc)
        req.reply(200, "NOW: %s.%06d000 +0000 UTC m=+%.9f" % (
            now.strftime("%Y-%m-%d %H:%M:%S"), now.microsecond, time.monotonic() - STARTED))

    def clientip(self, req):
        req.reply(200, req.client)

    def hostname(self, req):
        req.reply(200, hostname())

    def echo(self, req):
        msg, code = req.value("msg"), req.value("code")
        status = 200
        if code:
            try:
                status = go_atoi(code)
            except ValueError:
                return req.reply(200, "argument 'code' must be an integer or empty, got %s\n" % json.dumps(code))
        req.reply(status, msg)

    def healthz(self, req):
        # Ready once the UDP server runs: with --udp-port=-1 it never is, as upstream.
        req.reply(200 if self.udp_ready.is_set() else 412)

    def redirect(self, req):
        code = 302
        if req.value("code"):
            try:
                code = go_atoi(req.value("code"))
            except ValueError:
                return req.reply(200, "argument 'code' must be an integer or empty, got %s\n" % json.dumps(req.value("code")))
        req.redirect(req.value("location"), code)

    def shutdown(self, req):
        os._exit(0)

    def exit(self, req):
        args = {}
        for name, parse, what in (("timeout", parse_duration, "a valid golang duration"),
                                  ("wait", parse_duration, "a valid golang duration"),
                                  ("code", go_atoi, "an integer [0-127]")):
            text = req.value(name)
            try:
                args[name] = parse(text) if text else 0
            except ValueError:
                return req.reply(200, "argument '%s' must be %s or empty, got %s\n" % (name, what, json.dumps(text)))
        log("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d"
            % (go_duration(args["wait"]), go_duration(args["timeout"]), args["code"]))
        time.sleep(args["wait"])
        if args["timeout"] == 0:
            os._exit(args["code"])
        req.reply(200)

        def graceful():
            self.server.shutdown()
            log("Graceful shutdown completed with: <nil>")
            os._exit(args["code"])
        threading.Thread(target=graceful, daemon=True).start()

    def shell(self, req):
        cmd = req.value("shellCommand") or req.value("cmd")
        log("GET /shell?cmd=%s" % cmd)
        output = {}
        try:
            done = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if done.stdout:
                output["output"] = done.stdout.decode("utf-8", "replace")
            if done.returncode > 0:
                output["error"] = "exit status %d" % done.returncode
            elif done.returncode < 0:
                output["error"] = "signal: %s" % signal.Signals(-done.returncode).name[3:].lower()
        except OSError as err:
            output["error"] = "fork/exec /bin/sh: %s" % go_strerror(err.errno)
        req.reply(200, go_json(output))

    def dial(self, req):
        host, port, request = req.value("host"), req.value("port"), req.value("request")
        protocol, tries_text = req.value("protocol").lower(), req.value("tries")
        try:
            tries = go_atoi(tries_text) if tries_text else 1
        except ValueError as err:
            return req.error(400, "tries parameter is invalid. %s" % err)
        if not request:
            return req.error(400, "request parameter not specified. <nil>")
        if protocol not in ("", "http", "udp"):
            return req.error(400, "unsupported protocol. %s" % protocol)
        kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
        try:
            addr = resolve(host, port, kind)
        except OSError as err:
            return req.error(400, "host and/or port param are invalid. %s" % err)
        dialer = dial_udp if protocol == "udp" else dial_http
        responses, errors, response = [], [], ""
        for _ in range(tries):
            try:
                response = dialer(request, addr)
                responses.append(response)
            except OSError as err:
                response = ""
                errors.append(str(err))
        output = {}
        if response:
            output["responses"] = responses
        if errors:
            output["errors"] = errors
        req.reply(200, go_json(output))

    def udp_server(self, address):
        try:
            sock = bind_udp(self.flags["udp-port"], address)
        except OSError as err:
            fatal("Error occurred: failed to create listener for UDP address %s:%d:listen udp: %s"
                  % (address, self.flags["udp-port"], go_strerror(err.errno)))
        log("Started UDP server on port %s %d" % (address, self.flags["udp-port"]))
        self.udp_ready.set()
        while True:
            data, client = sock.recvfrom(2048)
            text = data.decode("utf-8", "replace").strip().lower()
            if text == "hostname":
                sock.sendto(hostname().encode(), client)
            elif text.startswith("echo "):
                sock.sendto(text.split(" ", 1)[1].encode(), client)
            elif text == "clientip":
                sock.sendto(go_addr(client).encode(), client)
            elif text:
                log("Unknown UDP command received from %s: %s" % (go_addr(client), text))

    def run(self):
        flags = self.flags
        if flags["udp-port"] != -1:
            addresses = sorted(set(flags["udp-listen-addresses"].split(","))) if flags["udp-listen-addresses"] else [""]
            for address in addresses:
                threading.Thread(target=self.udp_server, args=(address,), daemon=True).start()
        tls = (flags["tls-cert-file"], flags["tls-private-key-file"] or None) if flags["tls-cert-file"] else None
        try:
            self.server = listen_http(flags["http-port"], self.app, tls=tls)
        except OSError as err:
            fatal("listen tcp :%d: bind: %s" % (flags["http-port"], go_strerror(err.errno)))
        log("Started HTTP server on port %d" % flags["http-port"])
        self.server.serve_forever()
        while True:  # /exit with a timeout: the graceful shutdown thread ends the process
            time.sleep(3600)


def resolve(host, port, kind):
    """net.ResolveTCPAddr/ResolveUDPAddr: the first address, IPv4 preferred."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=kind)
    except socket.gaierror as err:
        raise OSError(dns_error(host, err)) from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][4][:2]


def nameserver():
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1]
    except OSError:
        pass
    return "127.0.0.1"


def dns_error(host, err):
    """Go's resolver error text: "lookup <host> on <server>:53: no such host"."""
    reason = "no such host" if err.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)) \
        else "i/o timeout" if err.errno == socket.EAI_AGAIN else "server misbehaving"
    return "lookup %s on %s: %s" % (host, go_addr((nameserver(), 53)), reason)


def dial_http(request, addr):
    url = "http://%s/%s" % (go_addr(addr), request)
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=5)
    try:
        conn.request("GET", "/" + request)
        return conn.getresponse().read().decode("utf-8", "replace")
    except socket.timeout:
        raise OSError('Get "%s": context deadline exceeded (Client.Timeout exceeded while awaiting headers)' % url) from None
    except OSError as err:
        raise OSError('Get "%s": dial tcp %s: connect: %s' % (url, go_addr(addr), go_strerror(err.errno or errno.EIO))) from None
    finally:
        conn.close()


def dial_udp(request, addr):
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(addr)
        sock.settimeout(5)
        sock.send(request.encode())
        try:
            data = sock.recv(2048)
        except socket.timeout:
            raise OSError("reading from udp connection failed. err:'read udp %s->%s: i/o timeout'"
                          % (go_addr(sock.getsockname()), go_addr(addr))) from None
        except OSError as err:
            raise OSError("reading from udp connection failed. err:'read udp %s->%s: read: %s'"
                          % (go_addr(sock.getsockname()), go_addr(addr), go_strerror(err.errno))) from None
        if not data:
            raise OSError("reading from udp connection failed. err:'<nil>'")
        return data.decode("utf-8", "replace")
    finally:
        sock.close()


def netexec(argv):
    flags, _ = parse_flags("netexec", argv, {
        "http-port": (int, 8080), "udp-port": (int, 8081), "sctp-port": (int, -1),
        "tls-cert-file": (str, ""), "tls-private-key-file": (str, ""),
        "http-override": (str, ""), "udp-listen-addresses": (str, ""),
    })
    Netexec(flags).run()


# ---- serve-hostname ----------------------------------------------------------------------------

def serve_hostname(argv):
    flags, _ = parse_flags("serve-hostname", argv, {
        "tcp": (bool, False), "udp": (bool, False), "http": (bool, True), "close": (bool, False),
        "port": (int, 9376),
    })
    if flags["http"] and (flags["tcp"] or flags["udp"]):
        fatal("Can't server TCP/UDP mode and HTTP mode at the same time")
    name = hostname().encode()
    port = flags["port"]
    if flags["tcp"]:
        listener = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True) \
            if socket.has_dualstack_ipv6() else socket.create_server(("0.0.0.0", port))

        def tcp_loop():
            while True:
                conn, client = listener.accept()
                log("TCP request from %s" % go_addr(client))
                conn.sendall(name)
                conn.close()
        threading.Thread(target=tcp_loop, daemon=True).start()
    if flags["udp"]:
        sock = bind_udp(port)

        def udp_loop():
            while True:
                _, client = sock.recvfrom(16)
                log("UDP request from %s" % go_addr(client))
                sock.sendto(name, client)
        threading.Thread(target=udp_loop, daemon=True).start()
    if flags["http"]:
        def app(req):
            log("HTTP request from %s" % req.client)
            req.reply(200, name, headers=(("Connection", "close"),) if flags["close"] else ())
        serve_in_background(listen_http(port, app))
    log("Serving on port %d.\n" % port)
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    while not terminated.wait(3600):
        pass
    log("Shutting down after receiving signal: terminated.\n")
    log("Awaiting pod deletion.\n")
    time.sleep(60)


# ---- connect -----------------------------------------------------------------------------------

def split_host_port(dest):
    """net.SplitHostPort's checks, with its error text."""
    if dest.startswith("["):
        end = dest.find("]")
        if end < 0:
            raise ValueError("address %s: missing ']' in address" % dest)
        if dest[end + 1:end + 2] != ":":
            raise ValueError("address %s: missing port in address" % dest)
        return dest[1:end], dest[end + 2:]
    if ":" not in dest:
        raise ValueError("address %s: missing port in address" % dest)
    host, _, port = dest.rpartition(":")
    if ":" in host:
        raise ValueError("address %s: too many colons in address" % dest)
    return host, port


def fail(prefix, detail=None):
    sys.stderr.write(prefix + ("" if detail is None else ": " + detail) + "\n")
    sys.exit(1)


def connect(argv):
    flags, args = parse_flags("connect", argv, {
        "timeout": ("duration", 0.0), "protocol": (str, "tcp"),
        "udp-data": (str, "hostname"), "sctp-data": (str, "hostname"),
    }, exact_args=1)
    dest, timeout = args[0], flags["timeout"]
    if flags["protocol"] in ("", "tcp"):
        connect_tcp(dest, timeout)
    elif flags["protocol"] == "udp":
        connect_udp(dest, timeout, flags["udp-data"])
    elif flags["protocol"] == "sctp":
        fail("OTHER", "SCTP is not available in netdojo's lab")
    else:
        sys.stderr.write("Unsupported protocol\n%s" % flags["protocol"])
        sys.exit(1)


def connect_tcp(dest, timeout):
    try:
        host, port = split_host_port(dest)
    except ValueError as err:
        fail("UNKNOWN", str(err))
    try:
        addr = resolve(host, port, socket.SOCK_STREAM)
    except OSError as err:
        fail("DNS", str(err))
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
    # A zero --timeout means none, as net.DialTimeout's: the kernel's SYN retries decide.
    sock.settimeout(timeout or None)
    try:
        sock.connect(addr)
    except socket.timeout:
        fail("TIMEOUT")
    except ConnectionRefusedError:
        fail("REFUSED")
    except OSError as err:
        if err.errno == errno.ETIMEDOUT:
            fail("TIMEOUT")
        fail("OTHER", "dial tcp %s: connect: %s" % (go_addr(addr), go_strerror(err.errno)))
    sock.close()
    sys.exit(0)


def connect_udp(dest, timeout, data):
    try:
        host, port = split_host_port(dest)
        addr = resolve(host, port, socket.SOCK_DGRAM)
    except (ValueError, OSError) as err:
        fail("DNS", str(err))
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(addr)
    except OSError as err:
        fail("OTHER", "dial udp %s: connect: %s" % (go_addr(addr), go_strerror(err.errno)))
    sock.settimeout(timeout or None)
    flow = "%s->%s" % (go_addr(sock.getsockname()), go_addr(addr))
    for op in ("write", "read"):
        try:
            if op == "write":
                sock.send((data + "\n").encode())
            else:
                reply = sock.recv(1024)
        except socket.timeout:
            fail("TIMEOUT", "%s udp %s: i/o timeout" % (op, flow))
        except ConnectionRefusedError:
            fail("REFUSED", "%s udp %s: %s: connection refused" % (op, flow, op))
        except OSError as err:
            fail("UNKNOWN", "%s udp %s: %s: %s" % (op, flow, op, go_strerror(err.errno)))
    if not reply:
        fail("OTHER", "No data received from the server. Cannot guarantee the server received the request.")
    sys.exit(0)


# ---- porter ------------------------------------------------------------------------------------

PORTER_PREFIXES = (("SERVE_PORT_", "tcp"), ("SERVE_TCP_PORT_", "tcp"), ("SERVE_UDP_PORT_", "udp"),
                   ("SERVE_SCTP_PORT_", "sctp"), ("SERVE_TLS_PORT_", "tls"))


def porter(argv):
    flags, _ = parse_flags("porter", argv, {"json-response": (bool, False)})
    threads = []
    for key, value in os.environ.items():
        for prefix, kind in PORTER_PREFIXES:
            if key.startswith(prefix):
                threads.append(threading.Thread(target=porter_serve, daemon=True,
                                                args=(kind, key[len(prefix):], value, flags["json-response"])))
                break
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Go's `select {}` once every server goroutine has ended.
    sys.stderr.write("fatal error: all goroutines are asleep - deadlock!\n")
    sys.exit(2)


def porter_serve(kind, port_text, value, json_response):
    def app(req):
        if json_response:
            req.reply(200, json.dumps({"Method": req.command, "Body": value}, separators=(",", ":")),
                      "application/json")
        else:
            req.reply(200, value)
    try:
        port = go_atoi(port_text)
        if kind == "udp":
            sock = bind_udp(port, "0.0.0.0")
            log("Started UDP server on port %s" % port_text)
            while True:
                _, client = sock.recvfrom(16)
                sock.sendto(value.encode(), client)
        if kind == "sctp":
            log("SCTP server on port %s: SCTP is not available in netdojo's lab" % port_text)
            return
        tls = (os.environ.get("CERT_FILE") or "localhost.crt", os.environ.get("KEY_FILE") or "localhost.key") \
            if kind == "tls" else None
        listen_http(port, app, host="0.0.0.0", tls=tls).serve_forever()
    except (OSError, ValueError, ssl.SSLError) as err:
        log('%s on port "%s" failed: %s' % ("tls server" if kind == "tls" else "server", port_text, err))


# ---- liveness ----------------------------------------------------------------------------------

def liveness(argv):
    parse_flags("liveness", argv, {})
    started = time.monotonic()

    def app(req):
        alive = time.monotonic() - started
        if req.route == "/started":
            req.reply(200, go_duration(alive))
        elif req.route == "/healthz" and alive > 10:
            req.reply(500, "error: %r" % alive)
        elif req.route == "/healthz":
            req.reply(200, "ok")
        elif req.route == "/redirect":
            req.redirect(req.query.get("loc", [""])[0], 302)
        else:
            req.reply(404, "404 page not found\n")
    listen_http(8080, app).serve_forever()


# ---- pause -------------------------------------------------------------------------------------

def pause(argv):
    parse_flags("pause", argv, {})
    signal.signal(signal.SIGINT, lambda *_: os._exit(1))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(2))
    print("Paused", flush=True)
    while True:
        signal.pause()


COMMANDS = {
    "connect": (connect, "Attempts a TCP, UDP or SCTP connection and returns useful errors"),
    "liveness": (liveness, "Starts a server that is alive for 10 seconds"),
    "netexec": (netexec, "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints"),
    "pause": (pause, "Pauses the execution"),
    "porter": (porter, "Serves requested data on ports specified in ENV variables"),
    "serve-hostname": (serve_hostname, "Serves the hostname"),
}


def main(argv):
    # Go programs die on SIGINT without a traceback; Python would raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not argv or argv[0] in ("help", "--help", "-h"):
        print("Usage:\n  agnhost [command]\n\nAvailable Commands:")
        for name, (_, short) in COMMANDS.items():
            print("  %-15s %s" % (name, short))
        return
    if argv[0] not in COMMANDS:
        sys.stderr.write("Error: unknown command \"%s\" for \"agnhost\"\nRun 'agnhost --help' for usage.\n" % argv[0])
        sys.exit(1)
    COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
