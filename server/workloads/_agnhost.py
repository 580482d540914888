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
#
# A lab runs dozens of these at once: one thread serves every socket of a process, and nothing is
# imported that a subcommand does not use (see serving.py).
import _signal
import _socket
import errno
import os
import sys
import time

import serving

STARTED = time.monotonic()
AF_INET, AF_INET6 = _socket.AF_INET, _socket.AF_INET6
SOCK_STREAM, SOCK_DGRAM = _socket.SOCK_STREAM, _socket.SOCK_DGRAM


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
    text = serving.json_text(obj, ensure_ascii=False, sort_keys=True)
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
DIGITS = "0123456789"
UNIT_LETTERS = "abcdefghijklmnopqrstuvwxyzµμ"


def parse_duration(text):
    """time.ParseDuration, in seconds."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body):
        start = pos
        while pos < len(body) and body[pos] in DIGITS:
            pos += 1
        if pos < len(body) and body[pos] == ".":
            pos += 1
            while pos < len(body) and body[pos] in DIGITS:
                pos += 1
        number = body[start:pos]
        unit_start = pos
        while pos < len(body) and body[pos] in UNIT_LETTERS:
            pos += 1
        unit = body[unit_start:pos]
        if number in ("", ".") or unit not in DURATION_UNITS:
            raise ValueError('time: invalid duration "%s"' % text)
        total += float(number) * DURATION_UNITS[unit]
    if not body:
        raise ValueError('time: invalid duration "%s"' % text)
    return -total if text.startswith("-") else total


def is_int(text):
    """[+-]?[0-9]+"""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits != "" and all(c in DIGITS for c in digits)


def go_atoi(text):
    """strconv.Atoi with its error text."""
    if not is_int(text):
        raise ValueError('strconv.Atoi: parsing "%s": invalid syntax' % text)
    return int(text)


def hostname():
    return _socket.gethostname()


def signal_name(number):
    """signal.Signals(number).name: of a signal's names, the first in alphabetical order."""
    names = [k for k, v in vars(_signal).items()
             if v == number and k.isupper() and k.startswith("SIG") and not k.startswith("SIG_")]
    if not names:
        raise ValueError("%r is not a valid Signals" % number)
    return min(names)


# ---- URLs, as urllib.parse reads them ----------------------------------------------------------

C0_OR_SPACE = "".join(map(chr, range(33)))
SCHEME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
HEX = "0123456789ABCDEFabcdef"


def split_url(url):
    """urlsplit(url)'s path and query."""
    url = url.lstrip(C0_OR_SPACE).replace("\t", "").replace("\r", "").replace("\n", "")
    colon = url.find(":")
    if colon > 0 and url[0].isascii() and url[0].isalpha() and all(c in SCHEME_CHARS for c in url[:colon]):
        url = url[colon + 1:]
    if url[:2] == "//":
        ends = [i for i in (url.find(c, 2) for c in "/?#") if i >= 0]
        end = min(ends) if ends else len(url)
        netloc, url = url[2:end], url[end:]
        if ("[" in netloc) != ("]" in netloc):
            raise ValueError("Invalid IPv6 URL")
    path, _, query = url.partition("#")[0].partition("?")
    return path, query


def unquote(text):
    """urllib.parse.unquote: %XX escapes, UTF-8 with replacement characters."""
    if "%" not in text:
        return text
    out, run, i = [], bytearray(), 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and len(text[i + 1:i + 3]) == 2 and all(c in HEX for c in text[i + 1:i + 3]):
            run.append(int(text[i + 1:i + 3], 16))
            i += 3
            continue
        if ch < "\x80":
            run.append(ord(ch))
        else:
            out.append(run.decode("utf-8", "replace"))
            out.append(ch)
            run = bytearray()
        i += 1
    out.append(run.decode("utf-8", "replace"))
    return "".join(out)


def parse_qs(qs):
    """urllib.parse.parse_qs(qs, keep_blank_values=True)."""
    parsed = {}
    for field in qs.split("&") if qs else ():
        if not field:
            continue
        name, _, value = field.partition("=")
        parsed.setdefault(unquote(name.replace("+", " ")), []).append(unquote(value.replace("+", " ")))
    return parsed


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
        if kind is int and not is_int(value):
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

def listen_http(loop, port, app, host=None, tls=None):
    """Go's ListenAndServe on ":port" (all addresses, IPv6 and IPv4) or on host:port."""
    if host is None:
        try:
            sock = serving.tcp_listener(AF_INET6, ("::", port), v6only=0)
        except OSError as err:
            if err.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                raise
            sock = serving.tcp_listener(AF_INET, ("0.0.0.0", port))
    else:
        sock = serving.tcp_listener(AF_INET6 if ":" in host else AF_INET, (host, port))
    context = None
    if tls:
        import ssl
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        except OSError:
            sock.close()
            raise
    server = serving.HTTPServer(loop, sock, Handler, tls=context)
    server.app = app
    return server


class Handler(serving.Handler):
    protocol_version = "HTTP/1.1"

    def send_response(self, code, message=None):
        # Go's server sends Date but no Server header.
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def content_length(self):
        return int(self.headers.get("Content-Length") or 0)

    def handle_any(self):
        self.route, query = split_url(self.path)
        self.query = parse_qs(query)
        self.form = self.read_form()
        self.server.app(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any

    def read_form(self):
        """The request body; a urlencoded POST/PUT/PATCH form feeds FormValue like Go's."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.command in ("POST", "PUT", "PATCH") and ctype == "application/x-www-form-urlencoded":
            return parse_qs(self.body.decode("utf-8", "replace"))
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
            self.write(data)

    def error(self, status, text):
        """http.Error: the text and a newline, nosniff."""
        self.reply(status, text + "\n", headers=(("X-Content-Type-Options", "nosniff"),))

    def redirect(self, location, code):
        """http.Redirect: Location, and a small HTML body for GET."""
        body = '<a href="%s">%s</a>.\n\n' % (serving.html_escape(location), serving.STATUS.get(code, "")) \
            if self.command == "GET" else ""
        self.reply(code, body, "text/html; charset=utf-8", (("Location", location),))


def serve_socket(loop, sock, handle, failed):
    """Calls handle whenever sock is readable; an error ends the serving, told to failed."""
    def ready(_events):
        try:
            handle()
        except OSError as err:
            loop.unwatch(sock.fileno())
            failed(err)
    loop.watch(sock.fileno(), serving.IN, ready)


def thread_died(_err):
    """What an uncaught exception in a serving thread prints; that server stops."""
    import traceback
    traceback.print_exc()


# ---- UDP ---------------------------------------------------------------------------------------

def bind_udp(port, host=""):
    """A UDP socket on host:port; "" is every address, IPv6 and IPv4."""
    if host == "":
        try:
            sock = _socket.socket(AF_INET6, SOCK_DGRAM)
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            return sock
        except OSError:
            host = "0.0.0.0"
    sock = _socket.socket(AF_INET6 if ":" in host else AF_INET, SOCK_DGRAM)
    sock.bind((host, port))
    return sock


# ---- netexec -----------------------------------------------------------------------------------

class Netexec:
    def __init__(self, flags):
        self.flags = flags
        self.loop = serving.Loop()
        self.udp_ready = False
        self.server = None
        self.routes = {
            "/clientip": self.clientip, "/dial": self.dial, "/echo": self.echo, "/exit": self.exit,
            "/healthz": self.healthz, "/hostname": self.hostname, "/hostName": self.hostname,
            "/redirect": self.redirect, "/shell": self.shell, "/shutdown": self.shutdown,
        }

    def app(self, req):
        if self.flags["http-override"]:
            path, query = split_url(self.flags["http-override"])
            req.route, req.query, req.form = path, parse_qs(query), {}
        self.routes.get(req.route, self.root)(req)

    def root(self, req):
        seconds, micros = divmod(time.time_ns() // 1000, 1000000)
        req.reply(200, "NOW: %s.%06d000 +0000 UTC m=+%.9f" % (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)), micros, time.monotonic() - STARTED))

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
                return req.reply(200, "argument 'code' must be an integer or empty, got %s\n" % serving.json_string(code))
        req.reply(status, msg)

    def healthz(self, req):
        # Ready once the UDP server runs: with --udp-port=-1 it never is, as upstream.
        req.reply(200 if self.udp_ready else 412)

    def redirect(self, req):
        code = 302
        if req.value("code"):
            try:
                code = go_atoi(req.value("code"))
            except ValueError:
                return req.reply(200, "argument 'code' must be an integer or empty, got %s\n" % serving.json_string(req.value("code")))
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
                return req.reply(200, "argument '%s' must be %s or empty, got %s\n" % (name, what, serving.json_string(text)))
        log("Will begin shutdown in %s, allowing %s for connections to close, then will exit with %d"
            % (go_duration(args["wait"]), go_duration(args["timeout"]), args["code"]))

        def graceful():
            self.server.close()
            log("Graceful shutdown completed with: <nil>")
            os._exit(args["code"])

        def shut_down():
            time.sleep(args["wait"])
            if args["timeout"] == 0:
                os._exit(args["code"])
            req.reply(200)
            req.then = graceful
        if args["wait"]:
            req.defer(shut_down)
        else:
            shut_down()

    def shell(self, req):
        cmd = req.value("shellCommand") or req.value("cmd")
        log("GET /shell?cmd=%s" % cmd)

        def run():
            output = {}
            try:
                code, out = serving.run_captured(["/bin/sh", "-c", cmd])
                if out:
                    output["output"] = out.decode("utf-8", "replace")
                if code > 0:
                    output["error"] = "exit status %d" % code
                elif code < 0:
                    output["error"] = "signal: %s" % signal_name(-code)[3:].lower()
            except OSError as err:
                output["error"] = "fork/exec /bin/sh: %s" % go_strerror(err.errno)
            req.reply(200, go_json(output))
        req.defer(run)

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

        def run():
            try:
                addr = resolve(host, port, SOCK_DGRAM if protocol == "udp" else SOCK_STREAM)
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
        req.defer(run)

    def udp_server(self, address):
        try:
            sock = bind_udp(self.flags["udp-port"], address)
        except OSError as err:
            fatal("Error occurred: failed to create listener for UDP address %s:%d:listen udp: %s"
                  % (address, self.flags["udp-port"], go_strerror(err.errno)))
        log("Started UDP server on port %s %d" % (address, self.flags["udp-port"]))
        self.udp_ready = True

        def answer():
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
        serve_socket(self.loop, sock, answer, thread_died)

    def run(self):
        flags = self.flags
        if flags["udp-port"] != -1:
            addresses = sorted(set(flags["udp-listen-addresses"].split(","))) if flags["udp-listen-addresses"] else [""]
            for address in addresses:
                self.udp_server(address)
        tls = (flags["tls-cert-file"], flags["tls-private-key-file"] or None) if flags["tls-cert-file"] else None
        try:
            self.server = listen_http(self.loop, flags["http-port"], self.app, tls=tls)
        except OSError as err:
            fatal("listen tcp :%d: bind: %s" % (flags["http-port"], go_strerror(err.errno)))
        log("Started HTTP server on port %d" % flags["http-port"])
        self.loop.run()


def resolve(host, port, kind):
    """net.ResolveTCPAddr/ResolveUDPAddr: the first address, IPv4 preferred."""
    try:
        infos = _socket.getaddrinfo(ascii_host(host) or None, port, 0, kind)
    except _socket.gaierror as err:
        raise OSError(dns_error(host, err)) from None
    infos.sort(key=lambda info: info[0] != AF_INET)
    return infos[0][4][:2]


def ascii_host(host):
    """The host as getaddrinfo gets it: the bytes its idna encoding gives an ASCII name, without
    loading that codec; other names as they are, for the codec to encode (or reject)."""
    if host.isascii():
        labels = host.split(".")
        if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
            return host.encode()
    return host


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
    reason = "no such host" if err.errno in (_socket.EAI_NONAME, getattr(_socket, "EAI_NODATA", -5)) \
        else "i/o timeout" if err.errno == _socket.EAI_AGAIN else "server misbehaving"
    return "lookup %s on %s: %s" % (host, go_addr((nameserver(), 53)), reason)


class HTTPProtocolError(Exception):
    """An answer that is not HTTP/1.x (http.client raises its HTTPException for these)."""


class Reader:
    """Buffered reads from a socket, as http.client's socket file does them."""

    def __init__(self, sock):
        self.sock, self.buf, self.eof = sock, bytearray(), False

    def _fill(self):
        if not self.eof:
            data = self.sock.recv(65536)
            self.buf += data
            self.eof = not data
        return not self.eof

    def readline(self, limit=65537):
        while True:
            end = self.buf.find(b"\n", 0, limit)
            if end >= 0 or len(self.buf) >= limit or not self._fill():
                n = end + 1 if end >= 0 else min(limit, len(self.buf))
                line = bytes(self.buf[:n])
                del self.buf[:n]
                return line

    def read(self, n=None):
        while (n is None or len(self.buf) < n) and self._fill():
            pass
        n = len(self.buf) if n is None else min(n, len(self.buf))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def exactly(self, n):
        data = self.read(n)
        if len(data) < n:
            raise HTTPProtocolError("IncompleteRead(%d bytes read, %d more expected)" % (len(data), n - len(data)))
        return data


def read_headers(reader):
    lines = []
    while True:
        line = reader.readline()
        if len(line) > 65536:
            raise HTTPProtocolError("got more than 65536 bytes when reading header line")
        lines.append(line)
        if len(lines) > 100:
            raise HTTPProtocolError("got more than 100 headers")
        if line in (b"\r\n", b"\n", b""):
            return serving.Headers(lines)


def http_request(addr, path):
    """What http.client sends for a GET of path: HTTP/1.1, Host and Accept-Encoding: identity."""
    for ch in path:
        if ch <= " " or ch == "\x7f":
            raise HTTPProtocolError("URL can't contain control characters. %r (found at least %r)" % (path, ch))
    host = "[%s]" % addr[0] if ":" in addr[0] else addr[0]
    if addr[1] != 80:
        host = "%s:%s" % (host, addr[1])
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n\r\n" % (path, host)).encode("ascii")


def read_response(reader):
    """The body of the answer, read as http.client's HTTPResponse reads it. A server that closes
    before answering raises an OSError without errno, as http.client's does."""
    while True:
        line = str(reader.readline(), "iso-8859-1")
        if len(line) > 65536:
            raise HTTPProtocolError("got more than 65536 bytes when reading status line")
        if not line:
            raise ConnectionResetError("Remote end closed connection without response")
        words = line.split(None, 2)
        version = words[0] if len(words) >= 2 else ""
        try:
            status = int(words[1]) if version.startswith("HTTP/") else 0
        except ValueError:
            status = 0
        if not 100 <= status <= 999:
            raise HTTPProtocolError(repr(line))
        headers = read_headers(reader)
        if status != 100:
            break
    if version not in ("HTTP/1.0", "HTTP/0.9") and not version.startswith("HTTP/1."):
        raise HTTPProtocolError(repr(version))
    if (headers.get("transfer-encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            line = reader.readline()
            if len(line) > 65536:
                raise HTTPProtocolError("got more than 65536 bytes when reading chunk size")
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(reader.exactly(size))
            reader.exactly(2)
    if status in (204, 304) or 100 <= status < 200:
        return b""
    try:
        length = int(headers.get("content-length") or "")
    except ValueError:
        length = -1
    return reader.exactly(length) if length >= 0 else reader.read()


def dial_http(request, addr):
    url = "http://%s/%s" % (go_addr(addr), request)
    data = http_request(addr, "/" + request)
    sock = _socket.socket(AF_INET6 if ":" in addr[0] else AF_INET, SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(addr)
        sock.sendall(data)
        return read_response(Reader(sock)).decode("utf-8", "replace")
    except TimeoutError:
        raise OSError('Get "%s": context deadline exceeded (Client.Timeout exceeded while awaiting headers)' % url) from None
    except OSError as err:
        raise OSError('Get "%s": dial tcp %s: connect: %s' % (url, go_addr(addr), go_strerror(err.errno or errno.EIO))) from None
    finally:
        sock.close()


def dial_udp(request, addr):
    sock = _socket.socket(AF_INET6 if ":" in addr[0] else AF_INET, SOCK_DGRAM)
    try:
        sock.connect(addr)
        sock.settimeout(5)
        sock.send(request.encode())
        try:
            data = sock.recv(2048)
        except TimeoutError:
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

def dual_stack_listener(port):
    """socket.create_server(("", port)) on IPv6 and IPv4 where the host has IPv6, else on IPv4."""
    try:
        probe = _socket.socket(AF_INET6, SOCK_STREAM)
        try:
            probe.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
        finally:
            probe.close()
        family, address = AF_INET6, ("", port)
    except OSError:
        family, address = AF_INET, ("0.0.0.0", port)
    sock = _socket.socket(family, SOCK_STREAM)
    try:
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        except OSError:
            pass
        if family == AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
        try:
            sock.bind(address)
        except OSError as err:
            raise OSError(err.errno, "%s (while attempting to bind on address %r)" % (err.strerror, address)) from None
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def serve_hostname(argv):
    flags, _ = parse_flags("serve-hostname", argv, {
        "tcp": (bool, False), "udp": (bool, False), "http": (bool, True), "close": (bool, False),
        "port": (int, 9376),
    })
    if flags["http"] and (flags["tcp"] or flags["udp"]):
        fatal("Can't server TCP/UDP mode and HTTP mode at the same time")
    name = hostname().encode()
    port = flags["port"]
    loop = serving.Loop()
    if flags["tcp"]:
        listener = dual_stack_listener(port)

        def answer_tcp():
            fd, client = listener._accept()
            conn = _socket.socket(listener.family, listener.type, 0, fd)
            log("TCP request from %s" % go_addr(client))
            conn.sendall(name)
            conn.close()
        serve_socket(loop, listener, answer_tcp, thread_died)
    if flags["udp"]:
        sock = bind_udp(port)

        def answer_udp():
            _, client = sock.recvfrom(16)
            log("UDP request from %s" % go_addr(client))
            sock.sendto(name, client)
        serve_socket(loop, sock, answer_udp, thread_died)
    if flags["http"]:
        def app(req):
            log("HTTP request from %s" % req.client)
            req.reply(200, name, headers=(("Connection", "close"),) if flags["close"] else ())
        listen_http(loop, port, app)
    log("Serving on port %d.\n" % port)
    terminating = []

    def terminated():
        if not terminating:
            terminating.append(True)
            log("Shutting down after receiving signal: terminated.\n")
            log("Awaiting pod deletion.\n")
            loop.later(60, loop.stop)
    loop.on_signal(_signal.SIGTERM, terminated)
    loop.run()


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
        addr = resolve(host, port, SOCK_STREAM)
    except OSError as err:
        fail("DNS", str(err))
    sock = _socket.socket(AF_INET6 if ":" in addr[0] else AF_INET, SOCK_STREAM)
    # A zero --timeout means none, as net.DialTimeout's: the kernel's SYN retries decide.
    sock.settimeout(timeout or None)
    try:
        sock.connect(addr)
    except TimeoutError:
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
        addr = resolve(host, port, SOCK_DGRAM)
    except (ValueError, OSError) as err:
        fail("DNS", str(err))
    sock = _socket.socket(AF_INET6 if ":" in addr[0] else AF_INET, SOCK_DGRAM)
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
        except TimeoutError:
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
    loop = serving.Loop()
    serving_count = [0]

    def ended():
        serving_count[0] -= 1
        if not serving_count[0]:
            deadlock()
    for key, value in os.environ.items():
        for prefix, kind in PORTER_PREFIXES:
            if key.startswith(prefix):
                if porter_serve(loop, kind, key[len(prefix):], value, flags["json-response"], ended):
                    serving_count[0] += 1
                break
    if not serving_count[0]:
        deadlock()
    loop.run()


def deadlock():
    # Go's `select {}` once every server goroutine has ended.
    sys.stderr.write("fatal error: all goroutines are asleep - deadlock!\n")
    sys.exit(2)


def porter_serve(loop, kind, port_text, value, json_response, ended):
    """Starts one of porter's servers; False when it ends at once."""
    def app(req):
        if json_response:
            req.reply(200, serving.json_text({"Method": req.command, "Body": value}), "application/json")
        else:
            req.reply(200, value)

    def failed(err):
        log('%s on port "%s" failed: %s' % ("tls server" if kind == "tls" else "server", port_text, err))
    try:
        port = go_atoi(port_text)
        if kind == "udp":
            sock = bind_udp(port, "0.0.0.0")
            log("Started UDP server on port %s" % port_text)

            def answer():
                _, client = sock.recvfrom(16)
                sock.sendto(value.encode(), client)
            serve_socket(loop, sock, answer, lambda err: (failed(err), ended()))
            return True
        if kind == "sctp":
            log("SCTP server on port %s: SCTP is not available in netdojo's lab" % port_text)
            return False
        tls = (os.environ.get("CERT_FILE") or "localhost.crt", os.environ.get("KEY_FILE") or "localhost.key") \
            if kind == "tls" else None
        listen_http(loop, port, app, host="0.0.0.0", tls=tls)
        return True
    except (OSError, ValueError) as err:
        failed(err)
        return False


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
    loop = serving.Loop()
    listen_http(loop, 8080, app)
    loop.run()


# ---- pause -------------------------------------------------------------------------------------

def pause(argv):
    parse_flags("pause", argv, {})
    _signal.signal(_signal.SIGINT, lambda *_: os._exit(1))
    _signal.signal(_signal.SIGTERM, lambda *_: os._exit(2))
    print("Paused", flush=True)
    while True:
        _signal.pause()


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
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    if not argv or argv[0] in ("help", "--help", "-h"):
        print("Usage:\n  agnhost [command]\n\nAvailable Commands:")
        for name, (_, short) in COMMANDS.items():
            print("  %-15s %s" % (name, short))
        return
    if argv[0] not in COMMANDS:
        sys.stderr.write("Error: unknown command \"%s\" for \"agnhost\"\nRun 'agnhost --help' for usage.\n" % argv[0])
        sys.exit(1)
    COMMANDS[argv[0]][0](argv[1:])
