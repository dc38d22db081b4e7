#!/usr/bin/env python3
"""A small OTLP/HTTP (JSON) trace collector, for the tests and for a look at a node's traces without a tracing
backend: each POST to /v1/traces is checked against OpenTelemetry's own protobuf definitions of OTLP
(opentelemetry-proto, from PyPI) and its spans are written one JSON object a line, flattened for reading:

    python3 scripts/otlp-collector.py --port 4318 --out spans.jsonl
    chat-node --otlp-endpoint http://127.0.0.1:4318 ...

A request the definitions refuse is answered 400 and written as {"error": ...}. `--refuse N` answers the first N
requests 503 (a collector that is away). It prints `otlp-collector listening PORT` once it listens (port 0 picks one).
"""
import argparse
import base64
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def proto3_json(request):
    """OTLP/JSON writes ids in hex where proto3's JSON mapping has base64: turn them back, checking their length."""
    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key, length in ID_LENGTHS.items():
                    if key not in span:
                        continue
                    raw = bytes.fromhex(span[key])
                    if len(raw) != length or span[key] != span[key].lower():
                        raise ValueError(f"{key} {span[key]!r} is not {length} bytes of lower-case hex")
                    span[key] = base64.b64encode(raw).decode()
    return request


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def flattened(message):
    for resource_spans in message.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": {a.key: value(a.value) for a in span.attributes},
                    "status": {"code": span.status.code, "message": span.status.message},
                    "resource": resource,
                    "scope": {"name": scope_spans.scope.name, "version": scope_spans.scope.version},
                }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--out", default="-", help="where spans go, a JSON object a line (default: standard output)")
    parser.add_argument("--refuse", type=int, default=0, help="answer the first N posts 503")
    options = parser.parse_args()
    out = sys.stdout if options.out == "-" else open(options.out, "a", buffering=1)
    lock = threading.Lock()
    refused = [0]

    def write(record):
        with lock:
            out.write(json.dumps(record) + "\n")
            out.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, body=b"{}"):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                refuse = refused[0] < options.refuse
                if refuse:
                    refused[0] += 1
            if refuse:
                return self.answer(503)
            try:
                if self.path != "/v1/traces":
                    raise ValueError(f"posted to {self.path}, not /v1/traces")
                if self.headers.get("Content-Type") != "application/json":
                    raise ValueError(f"Content-Type {self.headers.get('Content-Type')!r}")
                message = ExportTraceServiceRequest()
                # Strict: a field OTLP does not define is an error, as a real collector's decoder makes it.
                json_format.Parse(json.dumps(proto3_json(json.loads(body))), message)
            except Exception as error:  # noqa: BLE001 - every refusal is reported the same way
                write({"error": str(error)})
                return self.answer(400, json.dumps({"error": str(error)}).encode())
            for span in flattened(message):
                write(span)
            self.answer(200)

        def log_message(self, *arguments):
            pass

    # Ends at once on SIGTERM (a test's end), whatever signal mask and handling it inherited.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    server = ThreadingHTTPServer((options.host, options.port), Handler)
    print(f"otlp-collector listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
