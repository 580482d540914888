# A Kubernetes API client for programs that run inside a lab's pods, configured as client-go's
# rest.InClusterConfig is: the API server from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT,
# the pod's service account token and CA from /var/run/secrets/kubernetes.io/serviceaccount (the
# kubelet's kube-api-access-* volume). Lists and watches follow client-go's reflector: list, then
# watch from the list's resourceVersion, list again when the watch answers 410 Gone.
#
# Only modules written in C are imported (_ssl, _socket, _json; see serving.py): the ssl, json and
# http.client modules cost a program several megabytes and tens of milliseconds at start.
import _json
import _socket
import _ssl
import os

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ApiError(Exception):
    """An answer other than 2xx: the HTTP status and the API's Status (or the body as text)."""

    def __init__(self, status, body):
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"the server answered {status}: {message}")


# ---- JSON -------------------------------------------------------------------------------------

class _Scanning:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo = {}


_scan = _json.make_scanner(_Scanning())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, True)


def loads(text):
    """json.loads for one document (surrounding whitespace allowed)."""
    start = len(text) - len(text.lstrip())
    value, end = _scan(text, start)
    if text[end:].strip():
        raise ValueError(f"extra data at offset {end}")
    return value


def dumps(value):
    """json.dumps(value, separators=(",", ":"))."""
    return "".join(_encode(value, 0))


# ---- HTTP/1.1 over TLS ------------------------------------------------------------------------

class _Response:
    """One response read from a connection: status, headers, then the body in chunks."""

    def __init__(self, tls):
        self.tls = tls
        self.buffer = b""
        line = self._line()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise OSError(f"not an HTTP response: {line[:80]!r}")
        self.status = int(parts[1])
        self.headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(b":")
            self.headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.remaining = int(self.headers.get("content-length", "-1"))

    def _fill(self):
        data = self.tls.read(65536)
        if not data:
            raise OSError("the API server closed the connection")
        self.buffer += data

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def chunks(self):
        """The body as it arrives (a watch's body never ends while the watch lasts)."""
        if self.chunked:
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    return
                yield self._take(size)
                self._take(2)
        elif self.remaining >= 0:
            if self.remaining:
                yield self._take(self.remaining)
        else:
            while True:
                try:
                    self._fill()
                except OSError:
                    break
            yield self.buffer

    def body(self):
        return b"".join(self.chunks())


class _Socket(_socket.socket):
    """A socket TLS can wrap (the TLS object holds a weak reference to it)."""

    __slots__ = ("__weakref__",)


class Client:
    def __init__(self, host, port, token_file, ca_file):
        self.host, self.port, self.token_file = host, port, token_file
        self.context = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the name
        self.context.load_verify_locations(ca_file)

    @classmethod
    def in_cluster(cls):
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if not host or not port:
            raise RuntimeError("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")
        return cls(host, int(port), f"{SERVICE_ACCOUNT_DIR}/token", f"{SERVICE_ACCOUNT_DIR}/ca.crt")

    @property
    def url(self):
        return f"https://{self.host}:{self.port}"

    def _token(self):
        # Projected tokens are rotated by the kubelet: read the file for every request.
        with open(self.token_file) as f:
            return f.read().strip()

    def _send(self, method, path, body, content_type, timeout):
        sock = _Socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((self.host, self.port))
            tls = self.context._wrap_socket(sock, False, self.host)
            tls.do_handshake()
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Authorization: Bearer {self._token()}",
                    "Accept: application/json", "User-Agent: nginx-ingress-controller", "Connection: close"]
            if body is not None:
                head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
            tls.write("\r\n".join(head).encode() + b"\r\n\r\n" + (body or b""))
            return sock, _Response(tls)
        except BaseException:
            sock.close()
            raise

    def request(self, method, path, body=None, content_type="application/json", timeout=10):
        """The decoded JSON answer; ApiError for a status other than 2xx."""
        data = None if body is None else dumps(body).encode()
        sock, response = self._send(method, path, data, content_type, timeout)
        try:
            text = response.body().decode()
        finally:
            sock.close()
        try:
            value = loads(text)
        except ValueError:
            value = text
        if not 200 <= response.status < 300:
            raise ApiError(response.status, value)
        return value

    def get(self, path):
        return self.request("GET", path)

    def watch(self, path, resource_version, timeout_seconds=300):
        """The watch events ({"type", "object"}) from a resourceVersion, until the server ends it."""
        sep = "&" if "?" in path else "?"
        query = f"{path}{sep}watch=1&allowWatchBookmarks=true&resourceVersion={resource_version}&timeoutSeconds={timeout_seconds}"
        sock, response = self._send("GET", query, None, None, timeout_seconds + 30)
        try:
            if response.status != 200:
                raise ApiError(response.status, response.body().decode(errors="replace"))
            pending = b""
            for chunk in response.chunks():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield loads(line.decode())
        finally:
            sock.close()
