# What netdojo's agnhost and CoreDNS programs share: one thread that serves all their sockets and
# pipes, HTTP answered exactly as Python's http.server (a ThreadingHTTPServer) answers, child
# processes, and JSON strings written as Python's json module writes them.
#
# Only modules written in C are imported here (_socket, _signal, select): socket, signal, re and
# http load enum, which costs every process about a megabyte and milliseconds of start-up.
import _signal
import _socket
import os
import select
import sys
import time

IN, OUT = select.EPOLLIN, select.EPOLLOUT


class Loop:
    """Runs callbacks for ready file descriptors, timers, signals and other threads' requests."""

    def __init__(self):
        self.epoll = select.epoll()
        self.callbacks = {}
        self.timers = []
        self.calls = []
        self.running = False
        self.wake_r, self.wake_w = _socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.watch(self.wake_r.fileno(), IN, lambda _: self._drain())

    def watch(self, fd, events, callback):
        if fd in self.callbacks:
            self.epoll.modify(fd, events)
        else:
            self.epoll.register(fd, events)
        self.callbacks[fd] = callback

    def unwatch(self, fd):
        if self.callbacks.pop(fd, None) is not None:
            self.epoll.unregister(fd)

    def later(self, delay, callback):
        timer = [time.monotonic() + delay, callback]
        self.timers.append(timer)
        return timer

    def cancel(self, timer):
        if timer in self.timers:
            self.timers.remove(timer)

    def soon(self, callback):
        """Runs callback on the loop's thread; safe from other threads and signal handlers."""
        self.calls.append(callback)
        try:
            self.wake_w.send(b"\0")
        except OSError:
            pass  # the socket is full: the loop is woken already

    def on_signal(self, signum, callback):
        # The handler runs while epoll waits; the byte it sends ends the wait.
        _signal.signal(signum, lambda *_: self.soon(callback))

    def _drain(self):
        try:
            while self.wake_r.recv(512):
                pass
        except OSError:
            pass

    def stop(self):
        self.running = False

    def run(self):
        self.running = True
        while self.running:
            timeout = -1
            if self.timers:
                timeout = max(0.0, min(t[0] for t in self.timers) - time.monotonic())
            for fd, events in self.epoll.poll(timeout):
                callback = self.callbacks.get(fd)
                if callback:
                    callback(events)
            if self.timers:
                now = time.monotonic()
                for timer in [t for t in self.timers if t[0] <= now]:
                    self.cancel(timer)
                    timer[1]()
            calls, self.calls = self.calls, []
            for call in calls:
                call()


# ---- HTTP ----------------------------------------------------------------------------------------

STATUS = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints", 200: "OK",
    201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported",
    226: "IM Used", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
    308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a Teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    505: "HTTP Version Not Supported", 506: "Variant Also Negotiates", 507: "Insufficient Storage",
    508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
}
# http.server"s explanations of the errors these programs answer with.
EXPLAIN = {
    400: "Bad request syntax or unsupported method", 404: "Nothing matches the given URI",
    414: "URI is too long",
    431: "The server is unwilling to process the request because its header fields are too large",
    501: "Server does not support this operation", 505: "Cannot fulfill request",
}
ERROR_PAGE = """\
<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
"""
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date():
    y, mo, d, hh, mm, ss, wd = time.gmtime()[:7]
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (DAYS[wd], d, MONTHS[mo - 1], y, hh, mm, ss)


def html_escape(s, quote=True):
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace('"', "&quot;").replace("'", "&#x27;") if quote else s


def report(client_address):
    """socketserver's handle_error, for the exception being handled: a block on stderr."""
    import traceback
    print("-" * 40, file=sys.stderr)
    print("Exception occurred during processing of request from", client_address, file=sys.stderr)
    traceback.print_exc()
    print("-" * 40, file=sys.stderr)


class Headers:
    """A request's header fields as http.client.parse_headers (email's compat32 parser) reads
    them: the fields end at the first line that is no field; the first of a name wins."""

    def __init__(self, lines):
        self.fields = []
        field = None
        for raw in lines:
            line = raw.decode("iso-8859-1")
            if line[:1] in (" ", "\t"):
                if field:
                    field[1] += line
                continue
            field = None
            if line.startswith("From "):
                continue
            colon = line.find(":")
            if colon < 0 or not all("!" <= c <= "~" for c in line[:colon]):
                break
            if colon > 0:
                field = [line[:colon], line[colon + 1:].lstrip(" \t")]
                self.fields.append(field)

    def get(self, name, default=None):
        name = name.lower()
        for field, value in self.fields:
            if field.lower() == name:
                return value.rstrip("\r\n")
        return default


class Handler:
    """One connection, answered as http.server's BaseHTTPRequestHandler answers it: subclasses
    define do_GET etc. and answer with send_response/send_header/end_headers and write. A
    do_ method that would block calls defer; one that reads the body says so in content_length."""

    protocol_version = "HTTP/1.0"
    server_version = "BaseHTTP/0.6"
    sys_version = "Python/" + sys.version.split()[0]

    def __init__(self, server, sock, client_address):
        self.server, self.sock, self.client_address = server, sock, client_address
        self.loop, self.fd = server.loop, sock.fileno()
        self.received, self.output = bytearray(), bytearray()
        self.eof = self.closed = self.busy = False
        self.then = None
        self.events = 0
        self.headers_buffer = []
        sock.setblocking(False)
        self.close_connection = True
        self.step = self._request_line
        self._advance()

    # -- what handlers call ------------------------------------------------------------------
    def content_length(self):
        """How many bytes of body the do_ method reads (they are in self.body)."""
        return 0

    def defer(self, fn):
        """Answers from fn, run in a thread of its own (as every request runs in http.server)."""
        self.busy = True

        def run():
            try:
                fn()
            except Exception:
                report(self.client_address)
                self.close_connection = True
                self.output.clear()
            self.loop.soon(self._resume)
        import _thread
        _thread.start_new_thread(run, ())  # a daemon thread

    def write(self, data):
        self.output += data

    def date_time_string(self):
        return http_date()

    def version_string(self):
        return self.server_version + " " + self.sys_version

    def send_response(self, code, message=None):
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())

    def send_response_only(self, code, message=None):
        if self.request_version != "HTTP/0.9":
            if message is None:
                message = STATUS.get(code, "")
            self.headers_buffer.append(("%s %d %s\r\n" % (self.protocol_version, code, message)).encode("latin-1", "strict"))

    def send_header(self, keyword, value):
        if self.request_version != "HTTP/0.9":
            self.headers_buffer.append(("%s: %s\r\n" % (keyword, value)).encode("latin-1", "strict"))
        if keyword.lower() == "connection":
            if value.lower() == "close":
                self.close_connection = True
            elif value.lower() == "keep-alive":
                self.close_connection = False

    def end_headers(self):
        if self.request_version != "HTTP/0.9":
            self.headers_buffer.append(b"\r\n")
            self.output += b"".join(self.headers_buffer)
            self.headers_buffer = []

    def send_error(self, code, message=None, explain=None):
        if message is None:
            message = STATUS.get(code, "???")
        if explain is None:
            explain = EXPLAIN.get(code, "???")
        self.send_response(code, message)
        self.send_header("Connection", "close")
        body = None
        if code >= 200 and code not in (204, 205, 304):
            page = ERROR_PAGE % {"code": code, "message": html_escape(message, False), "explain": html_escape(explain, False)}
            body = page.encode("UTF-8", "replace")
            self.send_header("Content-Type", "text/html;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.write(body)

    # -- the connection --------------------------------------------------------------------
    def _line(self):
        """rfile.readline(65537): a line, b"" at the end of the input, None until it is here."""
        buf = self.received
        end = buf.find(b"\n", 0, 65537)
        if end >= 0:
            n = end + 1
        elif len(buf) >= 65537:
            n = 65537
        elif self.eof:
            n = len(buf)
        else:
            return None
        line = bytes(buf[:n])
        del buf[:n]
        return line

    def _request_line(self):
        """handle_one_request and parse_request up to the header fields."""
        line = self._line()
        if line is None:
            return False
        self.command = None
        self.request_version = version = "HTTP/0.9"
        self.close_connection = True
        self.step = None
        if len(line) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return True
        if not line:
            return True
        self.requestline = requestline = str(line, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return True
        if len(words) >= 3:
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                base_version_number = version.split("/", 1)[1]
                version_number = base_version_number.split(".")
                if len(version_number) != 2:
                    raise ValueError
                version_number = int(version_number[0]), int(version_number[1])
            except (ValueError, IndexError):
                self.send_error(400, "Bad request version (%r)" % version)
                return True
            if version_number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if version_number >= (2, 0):
                self.send_error(505, "Invalid HTTP version (%s)" % base_version_number)
                return True
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(400, "Bad request syntax (%r)" % requestline)
            return True
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(400, "Bad HTTP/0.9 request type (%r)" % command)
                return True
        self.command, self.path = command, path
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        self.header_lines = []
        self.step = self._header_lines
        return True

    def _header_lines(self):
        """The rest of parse_request: the header fields, Connection, Expect; then the method."""
        lines = self.header_lines
        while True:
            line = self._line()
            if line is None:
                return False
            if len(line) > 65536:
                self.step = None
                self.send_error(431, "Line too long", "got more than 65536 bytes when reading header line")
                return True
            lines.append(line)
            if len(lines) > 100:
                self.step = None
                self.send_error(431, "Too many headers", "got more than 100 headers")
                return True
            if line in (b"\r\n", b"\n", b""):
                break
        self.step = None
        self.headers = Headers(lines)
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if (self.headers.get("Expect", "").lower() == "100-continue" and self.protocol_version >= "HTTP/1.1"
                and self.request_version >= "HTTP/1.1"):
            self.send_response_only(100)
            self.end_headers()
        if not hasattr(self, "do_" + self.command):
            self.send_error(501, "Unsupported method (%r)" % self.command)
            return True
        try:
            self.body_size = max(0, self.content_length())
        except Exception:
            self._failed()
            return False
        self.body, self.body_received = bytearray(), 0
        self.step = self._body
        return True

    def _body(self):
        take = min(self.body_size - self.body_received, len(self.received))
        self.body += self.received[:take]
        del self.received[:take]
        self.body_received += take
        if self.body_received < self.body_size and not self.eof:
            return False
        self.step = None
        try:
            getattr(self, "do_" + self.command)()
        except Exception:
            self._failed()
            return False
        return True

    def _advance(self):
        """Does what the bytes received allow, then waits for the socket."""
        while not self.closed:
            if self.step is not None:
                if self.step():
                    continue
                if self.output:
                    self._send()  # an interim answer (100 Continue) while the body is awaited
                break
            if self.busy or not self._send():
                break
            then, self.then = self.then, None
            if then:
                then()
            if self.close_connection:
                self.close()
                return
            self.step = self._request_line
        if not self.closed:
            self._interest()

    def _resume(self):
        self.busy = False
        self._advance()

    def _send(self):
        """Sends what is written; False while some of it waits for the client."""
        while self.output:
            try:
                n = self.sock.send(self.output)
            except self.server.retry:
                return False
            except OSError:
                self._failed()
                return False
            del self.output[:n]
        return True

    def _interest(self):
        events = (IN if self.step is not None else 0) | (OUT if self.output and not self.busy else 0)
        if events != self.events:
            if events:
                self.loop.watch(self.fd, events, self._ready)
            else:
                self.loop.unwatch(self.fd)
            self.events = events

    def _ready(self, _events):
        if self.step is not None:
            try:
                while True:
                    data = self.sock.recv(65536)
                    if not data:
                        self.eof = True
                        break
                    self.received += data
                    if not self.server.tls or not self.sock.pending():
                        break
            except self.server.retry:
                pass
            except OSError:
                self._failed()
                return
        self._advance()

    def _failed(self):
        """socketserver's handle_error for the exception being handled; the connection closes."""
        report(self.client_address)
        try:
            self.sock.send(self.output)
        except OSError:
            pass
        self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.loop.unwatch(self.fd)
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()


class HTTPServer:
    """Connections to a listening socket, each answered by an instance of handler. tls: an
    ssl.SSLContext the connections' handshakes are made with."""

    def __init__(self, loop, sock, handler, tls=None):
        self.loop, self.socket, self.handler, self.tls = loop, sock, handler, tls
        self.retry = (BlockingIOError,)
        if tls:
            import ssl
            self.retry = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
        sock.setblocking(False)
        loop.watch(sock.fileno(), IN, self._accept)

    def _accept(self, _events):
        try:
            fd, address = self.socket._accept()
        except OSError:
            return  # socketserver drops a connection it fails to accept
        if not self.tls:
            self.handler(self, _socket.socket(self.socket.family, self.socket.type, 0, fd), address)
            return
        import socket
        import ssl
        sock = self.tls.wrap_socket(socket.socket(fileno=fd), server_side=True, do_handshake_on_connect=False)
        sock.setblocking(False)

        def handshake(_events):
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                self.loop.watch(fd, IN, handshake)
            except ssl.SSLWantWriteError:
                self.loop.watch(fd, OUT, handshake)
            except OSError:
                # A failed handshake drops the connection, as in socketserver's accept.
                self.loop.unwatch(fd)
                sock.close()
            else:
                self.loop.unwatch(fd)
                self.handler(self, sock, address)
        handshake(0)

    def close(self):
        self.loop.unwatch(self.socket.fileno())
        self.socket.close()


def tcp_listener(family, address, v6only=None):
    """A listening socket as socketserver.TCPServer (allow_reuse_address) makes it."""
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        if v6only is not None:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, v6only)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(5)
    except OSError:
        sock.close()
        raise
    return sock


# ---- child processes ---------------------------------------------------------------------------

def run_captured(argv, stderr=True):
    """subprocess.run(argv, stdout=PIPE, stderr=STDOUT or DEVNULL): (return code, output); the
    return code is -N for a child killed by signal N. OSError when argv[0] cannot be run."""
    r, w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, w, 1),
               (os.POSIX_SPAWN_DUP2, w, 2) if stderr else (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    try:
        # subprocess's restore_signals: the signals Python ignores are the child's defaults again.
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
    except OSError:
        os.close(r)
        raise
    finally:
        os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), b"".join(chunks)


# ---- JSON --------------------------------------------------------------------------------------

JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def json_string(s, ensure_ascii=True):
    """json.dumps(s, ensure_ascii=...)."""
    out = ['"']
    for ch in s:
        if ch in JSON_ESCAPES:
            out.append(JSON_ESCAPES[ch])
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        elif ensure_ascii and ch > "~":
            n = ord(ch)
            if n > 0xFFFF:
                n -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 | (n >> 10), 0xDC00 | (n & 0x3FF)))
            else:
                out.append("\\u%04x" % n)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_text(value, ensure_ascii=True, sort_keys=False):
    """json.dumps(value, separators=(",", ":"), ...) for strings, integers, lists and dicts."""
    if isinstance(value, str):
        return json_string(value, ensure_ascii)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        return "{" + ",".join(json_string(k, ensure_ascii) + ":" + json_text(v, ensure_ascii, sort_keys) for k, v in items) + "}"
    return "[" + ",".join(json_text(v, ensure_ascii, sort_keys) for v in value) + "]"
