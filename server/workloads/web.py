# The `web` backend a lab's pods run (netns: a process in the pod; kind: the same file in an image).
# Endpoints, agnhost-netexec style so a fake responder cannot pass the grader's identity checks:
#   GET /, /hostname   -> the pod name (no newline)
#   GET /bytes/<n>     -> n bytes (large transfers for the MTU checks)
#   POST /upload       -> the number of bytes received
# Usage: web.py <listen-ip> <port> <pod-name> [<port> ...]   (extra ports answer the same way)
import http.server, socketserver, sys, threading

CHUNK = b"\0" * 65536
MAX_BYTES = 64 * 1024 * 1024


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # http.server reverse-resolves its address here (socket.getfqdn) and stalls without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = "web"

    def log_message(self, *args):
        pass

    def reply(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/", "/hostname"):
            return self.reply(self.name.encode())
        if self.path.startswith("/bytes/"):
            try:
                n = int(self.path[len("/bytes/"):])
            except ValueError:
                n = -1
            if not 0 <= n <= MAX_BYTES:
                return self.send_error(400, "bytes must be 0..%d" % MAX_BYTES)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                k = min(n, len(CHUNK))
                self.wfile.write(CHUNK[:k])
                n -= k
            return
        if self.path == "/healthz":
            return self.reply(b"ok")
        self.send_error(404)

    def do_POST(self):
        if self.path != "/upload":
            return self.send_error(404)
        n = int(self.headers.get("Content-Length", 0))
        got = 0
        while got < n:
            b = self.rfile.read(min(65536, n - got))
            if not b:
                break
            got += len(b)
        self.reply(str(got).encode())


def main():
    ip, name = sys.argv[1], sys.argv[3]
    ports = [int(p) for p in [sys.argv[2]] + sys.argv[4:]]
    Handler.name = name
    servers = [Server((ip, p), Handler) for p in ports]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    servers[0].serve_forever()


main()
