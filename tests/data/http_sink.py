#!/usr/bin/env python3
"""A tiny real HTTP server for the upload tests (127.0.0.1 only).

http_sink.py PORT OUTDIR FAIL_FIRST [TOKEN]

PUT and POST bodies are written to OUTDIR/<n>.<method>.body; the first
FAIL_FIRST requests are answered 503; with TOKEN, a request without
"Authorization: Bearer TOKEN" is answered 401.  Stops by itself after
60 s so that a forgotten server never lingers.
"""
import http.server
import os
import sys
import threading

port, outdir, fail_first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
token = sys.argv[4] if len(sys.argv) > 4 else None
count = 0


class Sink(http.server.BaseHTTPRequestHandler):
    def handle_body(self, method):
        global count
        count += 1
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with open(os.path.join(outdir, "requests.log"), "a") as log:
            log.write("%s %s %s %d\n" % (method, self.path,
                      self.headers.get("Authorization", "-"), len(body)))
        if count <= fail_first:
            self.send_response(503)
        elif token and self.headers.get("Authorization") != "Bearer " + token:
            self.send_response(401)
        else:
            with open(os.path.join(outdir, "%d.%s.body" % (count, method)), "wb") as f:
                f.write(body)
            self.send_response(201 if method == "put" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self):
        self.handle_body("put")

    def do_POST(self):
        self.handle_body("post")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Sink)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
