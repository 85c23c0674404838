"""A few RocketMQ remoting requests, used only to see when a cluster is ready.

The harness never judges compatibility with this client (the official clients do
that); it only asks a nameserver whether a broker has registered yet. Frames are
JSON-header requests as in shared/protocol.md section 1: a 4-byte length, a 4-byte
serialize-type/header-length word, the header, then the body.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct

GET_ROUTEINFO_BY_TOPIC = 105
GET_BROKER_CLUSTER_INFO = 106

_opaque = itertools.count(1)


class RemotingError(Exception):
    pass


def request(addr: tuple[str, int], code: int, ext: dict[str, str] | None = None,
            body: bytes = b"", timeout: float = 3.0) -> tuple[int, str, bytes]:
    """Sends one request, returns (response code, remark, body)."""
    opaque = next(_opaque)
    header = {"code": code, "flag": 0, "language": "JAVA", "opaque": opaque,
              "serializeTypeCurrentRPC": "JSON", "version": 0}
    if ext is not None:
        header["extFields"] = ext
    h = json.dumps(header, separators=(",", ":")).encode()
    frame = struct.pack(">ii", 4 + len(h) + len(body), len(h)) + h + body
    with socket.create_connection(addr, timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(frame)
        (length,) = struct.unpack(">i", _read_exact(s, 4))
        if not 4 <= length <= 16 * 1024 * 1024:
            raise RemotingError(f"bad frame length {length}")
        data = _read_exact(s, length)
    word = struct.unpack(">i", data[:4])[0]
    ser, hlen = (word >> 24) & 0xFF, word & 0xFFFFFF
    if hlen > len(data) - 4:
        raise RemotingError("header longer than frame")
    raw_header, rbody = data[4:4 + hlen], data[4 + hlen:]
    if ser == 0:
        resp = json.loads(raw_header.decode("utf-8"))
        rcode, remark, ropaque = resp.get("code"), resp.get("remark") or "", resp.get("opaque")
    elif ser == 1:
        rcode, _lang, _ver, ropaque, _flag, rlen = struct.unpack(">hbhiii", raw_header[:17])
        remark = raw_header[17:17 + rlen].decode("utf-8", "replace")
    else:
        raise RemotingError(f"unknown serialize type {ser}")
    if ropaque != opaque:
        raise RemotingError(f"response opaque {ropaque} != request {opaque}")
    return int(rcode), remark, rbody


def _read_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RemotingError("connection closed")
        buf += chunk
    return bytes(buf)


def broker_registered(ns_port: int, broker_name: str, broker_addr: str) -> tuple[bool, str]:
    """Whether the nameserver lists ``broker_addr`` under ``broker_name``.

    Tries the cluster info first, then the route of the topic named after the broker
    (every broker creates one). Bodies are fastjson output (bare numeric map keys), so
    they are searched as text rather than parsed.
    """
    why = ""
    for code, ext in ((GET_BROKER_CLUSTER_INFO, None),
                      (GET_ROUTEINFO_BY_TOPIC, {"topic": broker_name})):
        try:
            rcode, remark, body = request(("127.0.0.1", ns_port), code, ext)
        except (OSError, RemotingError, ValueError) as e:
            why = f"request {code}: {e}"
            continue
        text = body.decode("utf-8", "replace")
        if rcode == 0 and f'"{broker_addr}"' in text and f'"{broker_name}"' in text:
            return True, ""
        why = f"request {code}: code {rcode} {remark!r}, body {text[:200]!r}"
    return False, why
