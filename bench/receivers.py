"""`python -m bench.receivers OK_PORT DEAD_PORT`: client webhook endpoints for the bench.

On OK_PORT, a threaded HTTP server that reads each POST and answers 204 at once (nine of the ten
endpoints point here, under different paths). On DEAD_PORT, a socket that listens and never
accepts: the kernel completes each connection, the request goes out, no answer ever comes, and the
sender times out (the tenth endpoint)."""

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Answer204(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main(ok_port: int, dead_port: int) -> None:
    dead = socket.socket()
    dead.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    dead.bind(("127.0.0.1", dead_port))
    dead.listen(1024)
    server = ThreadingHTTPServer(("127.0.0.1", ok_port), _Answer204)
    server.daemon_threads = True
    print("receivers.ready", flush=True)  # noqa: T201 (the bench waits for this line)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
