# The `web` backend a lab's pods run (netns: a process in the pod; kind: the same file in an image).
# Endpoints, agnhost-netexec style so a fake responder cannot pass the grader's identity checks:
#   GET /, /hostname   -> the pod name (no newline)
#   GET /bytes/<n>     -> n bytes (large transfers for the MTU checks)
#   POST /upload       -> the number of bytes received
# Usage: web.py <listen-ip> <port> <pod-name> [<port> ...]   (extra ports answer the same way)
#
# Its answers are those of Python's http.server (ThreadingHTTPServer, HTTP/1.1), every request
# line, header and error page alike. One thread serves every connection; the file stands alone
# (the kind image ships only it) and imports only modules written in C (see serving.py).
import _socket
import select
import sys
import time

CHUNK = b"\0" * 65536
MAX_BYTES = 64 * 1024 * 1024
IN, OUT = select.EPOLLIN, select.EPOLLOUT
SERVER = "BaseHTTP/0.6 Python/" + sys.version.split()[0]
STATUS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found", 414: "Request-URI Too Long",
          431: "Request Header Fields Too Large", 501: "Not Implemented", 505: "HTTP Version Not Supported"}
EXPLAIN = {400: "Bad request syntax or unsupported method", 404: "Nothing matches the given URI",
           414: "URI is too long",
           431: "The server is unwilling to process the request because its header fields are too large",
           501: "Server does not support this operation", 505: "Cannot fulfill request"}
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

epoll = select.epoll()
callbacks = {}
name = "web"


def header(keyword, value):
    return ("%s: %s\r\n" % (keyword, value)).encode("latin-1", "strict")


def header_value(lines, wanted):
    """http.client.parse_headers' value of a field: fields end at the first line that is none."""
    value = None
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[:1] in (" ", "\t"):
            if value is not None:
                value += line
            continue
        if value is not None:
            break
        if line.startswith("From "):
            continue
        colon = line.find(":")
        if colon < 0 or not all("!" <= c <= "~" for c in line[:colon]):
            break
        if colon > 0 and line[:colon].lower() == wanted:
            value = line[colon + 1:].lstrip(" \t")
    return None if value is None else value.rstrip("\r\n")


def chunks(n):
    while n > 0:
        k = min(n, len(CHUNK))
        yield CHUNK[:k]
        n -= k


class Connection:
    """One client connection, answered request after request as http.server answers them."""

    def __init__(self, sock, address):
        self.sock, self.address, self.fd = sock, address, sock.fileno()
        self.received, self.output = bytearray(), bytearray()
        self.eof = self.closed = False
        self.body = None
        self.events = 0
        sock.setblocking(False)
        self.step = self.request_line
        self.advance()

    # -- answers ---------------------------------------------------------------------------
    def start(self, code, message=None):
        self.head = []
        if self.version != "HTTP/0.9":
            self.head.append(("HTTP/1.1 %d %s\r\n" % (code, STATUS.get(code, "") if message is None else message)).encode("latin-1", "strict"))
            self.head += [header("Server", SERVER), header("Date", http_date())]

    def end(self, *fields):
        if self.version != "HTTP/0.9":
            self.output += b"".join(self.head) + b"".join(header(k, v) for k, v in fields) + b"\r\n"

    def reply(self, body, ctype="text/plain"):
        self.start(200)
        self.end(("Content-Type", ctype), ("Content-Length", str(len(body))))
        self.output += body

    def error(self, code, message=None, explain=None):
        message = STATUS.get(code, "???") if message is None else message
        page = ERROR_PAGE % {"code": code, "message": escape(message), "explain": escape(EXPLAIN.get(code, "???") if explain is None else explain)}
        body = page.encode("UTF-8", "replace")
        self.start(code, message)
        self.end(("Connection", "close"), ("Content-Type", "text/html;charset=utf-8"), ("Content-Length", str(len(body))))
        self.close_connection = True
        if self.command != "HEAD":
            self.output += body

    def get(self):
        if self.path in ("/", "/hostname"):
            return self.reply(name.encode())
        if self.path.startswith("/bytes/"):
            try:
                n = int(self.path[len("/bytes/"):])
            except ValueError:
                n = -1
            if not 0 <= n <= MAX_BYTES:
                return self.error(400, "bytes must be 0..%d" % MAX_BYTES)
            self.start(200)
            self.end(("Content-Type", "application/octet-stream"), ("Content-Length", str(n)))
            self.body = chunks(n)
            return
        if self.path == "/healthz":
            return self.reply(b"ok")
        self.error(404)

    # -- requests --------------------------------------------------------------------------
    def line(self):
        """rfile.readline(65537): a line, b"" at the end of the input, None until it is here."""
        buf = self.received
        end = buf.find(b"\n", 0, 65537)
        n = end + 1 if end >= 0 else 65537 if len(buf) >= 65537 else len(buf) if self.eof else -1
        if n < 0:
            return None
        line = bytes(buf[:n])
        del buf[:n]
        return line

    def request_line(self):
        line = self.line()
        if line is None:
            return False
        self.step, self.command, self.version, self.close_connection = None, None, "HTTP/0.9", True
        if len(line) > 65536:
            self.command = self.version = ""
            self.error(414)
            return True
        requestline = str(line, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return True
        if len(words) >= 3:
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                number = version.split("/", 1)[1]
                parts = number.split(".")
                if len(parts) != 2:
                    raise ValueError
                parts = int(parts[0]), int(parts[1])
            except (ValueError, IndexError):
                self.error(400, "Bad request version (%r)" % version)
                return True
            self.close_connection = parts < (1, 1)
            if parts >= (2, 0):
                self.error(505, "Invalid HTTP version (%s)" % number)
                return True
            self.version = version
        if not 2 <= len(words) <= 3:
            self.error(400, "Bad request syntax (%r)" % requestline)
            return True
        self.command, self.path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if self.command != "GET":
                self.error(400, "Bad HTTP/0.9 request type (%r)" % self.command)
                return True
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        self.header_lines = []
        self.step = self.headers
        return True

    def headers(self):
        lines = self.header_lines
        while True:
            line = self.line()
            if line is None:
                return False
            if len(line) > 65536:
                self.step = None
                self.error(431, "Line too long", "got more than 65536 bytes when reading header line")
                return True
            lines.append(line)
            if len(lines) > 100:
                self.step = None
                self.error(431, "Too many headers", "got more than 100 headers")
                return True
            if line in (b"\r\n", b"\n", b""):
                break
        self.step = None
        conntype = (header_value(lines, "connection") or "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if (header_value(lines, "expect") or "").lower() == "100-continue" and self.version >= "HTTP/1.1":
            self.output += b"HTTP/1.1 100 Continue\r\n\r\n"
        if self.command == "GET":
            self.get()
        elif self.command != "POST":
            self.error(501, "Unsupported method (%r)" % self.command)
        elif self.path != "/upload":
            self.error(404)
        else:
            length = header_value(lines, "content-length")
            try:
                self.expected = 0 if length is None else int(length)
            except ValueError:
                self.failed()
                return False
            self.got = 0
            self.step = self.upload
        return True

    def upload(self):
        take = min(self.expected - self.got, len(self.received))
        if take > 0:
            del self.received[:take]
            self.got += take
        if self.got < self.expected and not self.eof:
            return False
        self.step = None
        self.reply(str(self.got).encode())
        return True

    # -- the socket ------------------------------------------------------------------------
    def advance(self):
        while not self.closed:
            if self.step is not None:
                if self.step():
                    continue
                if self.output:
                    self.send()  # 100 Continue while the body is awaited
                break
            if not self.send():
                break
            if self.close_connection:
                self.close()
                return
            self.step = self.request_line
        if not self.closed:
            events = (IN if self.step is not None else 0) | (OUT if self.output else 0)
            if events != self.events:
                if self.events:
                    epoll.modify(self.fd, events)
                else:
                    epoll.register(self.fd, events)
                    callbacks[self.fd] = self.ready
                self.events = events

    def send(self):
        while True:
            if self.output:
                try:
                    n = self.sock.send(self.output)
                except BlockingIOError:
                    return False
                except OSError:
                    self.failed()
                    return False
                del self.output[:n]
                if self.output:
                    return False
            elif self.body is not None:
                self.output += next(self.body, b"")
                if not self.output:
                    self.body = None
            else:
                return True

    def ready(self, _events):
        if self.step is not None:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                self.failed()
                return
            if data:
                self.received += data
            elif data is not None:
                self.eof = True
        self.advance()

    def failed(self):
        """socketserver's handle_error: the exception on stderr; the connection closes."""
        import traceback
        print("-" * 40, file=sys.stderr)
        print("Exception occurred during processing of request from", self.address, file=sys.stderr)
        traceback.print_exc()
        print("-" * 40, file=sys.stderr)
        try:
            self.sock.send(self.output)
        except OSError:
            pass
        self.close()

    def close(self):
        self.closed = True
        if self.events:
            epoll.unregister(self.fd)
            del callbacks[self.fd]
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()


def escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def http_date():
    y, mo, d, hh, mm, ss, wd = time.gmtime()[:7]
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (DAYS[wd], d, MONTHS[mo - 1], y, hh, mm, ss)


def listen(ip, port):
    """http.server.HTTPServer's socket: IPv4, SO_REUSEADDR, a backlog of 5."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(5)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)

    def accept(_events):
        try:
            fd, address = sock._accept()
        except OSError:
            return
        Connection(_socket.socket(_socket.AF_INET, _socket.SOCK_STREAM, 0, fd), address)
    epoll.register(sock.fileno(), IN)
    callbacks[sock.fileno()] = accept


def main():
    global name
    ip, name = sys.argv[1], sys.argv[3]
    for port in [int(p) for p in [sys.argv[2]] + sys.argv[4:]]:
        listen(ip, port)
    print("ready", flush=True)
    while True:
        for fd, events in epoll.poll():
            callback = callbacks.get(fd)
            if callback:
                callback(events)


main()
