"""A recording TCP proxy for the RocketMQ remoting protocol (wire fixtures, issue 2).

``CaptureProxy`` listens on one address and forwards every connection to a target,
byte for byte and unchanged, while a frame splitter per direction cuts the stream
into remoting frames (``[i32 length][i32 type<<24 | header length][header][body]``)
and hands each whole frame, with the connection, direction and a label, to a
``Recorder``. The proxy never alters, delays or reorders bytes: what the peer
receives is exactly what was sent.

Frames are parsed here in Python (``parse_frame``), independently of the Rust
decoder, so that the sidecar files written next to each fixture are a second
opinion on what the frame contains.

Standalone use (records to DIR/frames.jsonl + DIR/NNNNNN.bin until Ctrl-C):

    python3 -m harness.capture --listen 127.0.0.1:19876 --target 127.0.0.1:9876 --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SERIALIZE_TYPES = {0: "JSON", 1: "ROCKETMQ"}
LANGUAGES = ["JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
             "PHP", "OMS", "RUST"]
MAX_FRAME = 16 * 1024 * 1024


@dataclass
class Frame:
    """One whole frame as it crossed the proxy."""
    seq: int
    label: str          # recorder label at the time (e.g. "4.9.8-json")
    link: str           # proxy name, e.g. "client->namesrv"
    conn: int           # connection number within the proxy
    direction: str      # "c2s" (towards the target) or "s2c"
    time: float
    raw: bytes          # the whole frame, length prefix included

    def parsed(self) -> dict:
        return parse_frame(self.raw)


class FrameError(ValueError):
    pass


def parse_frame(raw: bytes) -> dict:
    """Decodes a whole frame (length prefix included) into a plain dict (Python's own reading)."""
    if len(raw) < 8:
        raise FrameError("frame shorter than 8 bytes")
    (length,) = struct.unpack(">I", raw[:4])
    if length != len(raw) - 4:
        raise FrameError(f"length prefix {length} but {len(raw) - 4} bytes follow")
    (word,) = struct.unpack(">I", raw[4:8])
    kind, header_len = word >> 24, word & 0xFFFFFF
    if 8 + header_len > len(raw):
        raise FrameError(f"header length {header_len} runs past the frame")
    header = raw[8:8 + header_len]
    body = raw[8 + header_len:]
    out: dict = {"serialize_type": SERIALIZE_TYPES.get(kind, f"UNKNOWN({kind})"),
                 "header_len": header_len, "body_len": len(body),
                 "body_sha256": hashlib.sha256(body).hexdigest()}
    if kind == 0:
        text = header.decode("utf-8")
        obj = json.loads(text)  # dicts keep the member order of the text
        out["json_member_order"] = list(obj.keys())
        out["code"] = obj.get("code", 0)
        out["flag"] = obj.get("flag", 0)
        out["opaque"] = obj.get("opaque", 0)
        out["version"] = obj.get("version", 0)
        out["language"] = obj.get("language")
        out["remark"] = obj.get("remark")
        ext = obj.get("extFields")
        out["ext_fields"] = None if ext is None else {k: (v if isinstance(v, str) or v is None
                                                          else json.dumps(v)) for k, v in ext.items()}
        out["other_members"] = {k: v for k, v in obj.items()
                                if k not in ("code", "flag", "opaque", "version", "language", "remark",
                                             "extFields")}
    elif kind == 1:
        pos = 0

        def take(n):
            nonlocal pos
            if pos + n > len(header):
                raise FrameError("binary header field runs past the header")
            b = header[pos:pos + n]
            pos += n
            return b
        code, lang, version, opaque, flag = struct.unpack(">hBhii", take(13))
        (remark_len,) = struct.unpack(">i", take(4))
        remark = take(remark_len).decode("utf-8") if remark_len > 0 else None
        (ext_len,) = struct.unpack(">i", take(4))
        ext = None
        if ext_len > 0:
            section = take(ext_len)
            ext = {}
            p = 0
            while p < len(section):
                (kl,) = struct.unpack(">h", section[p:p + 2])
                k = section[p + 2:p + 2 + kl].decode("utf-8")
                p += 2 + kl
                (vl,) = struct.unpack(">i", section[p:p + 4])
                v = section[p + 4:p + 4 + vl].decode("utf-8")
                p += 4 + vl
                ext[k] = v
        if pos != len(header):
            raise FrameError(f"{len(header) - pos} bytes left after the binary header")
        out.update(code=code, flag=flag, opaque=opaque, version=version,
                   language=LANGUAGES[lang] if lang < len(LANGUAGES) else f"#{lang}",
                   remark=remark, ext_fields=ext)
    else:
        raise FrameError(f"unknown serialize type {kind}")
    return out


class _Splitter:
    """Cuts a byte stream into whole frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        frames = []
        while len(self.buf) >= 4:
            (n,) = struct.unpack(">I", self.buf[:4])
            if n > MAX_FRAME:
                raise FrameError(f"declared frame length {n} is over 16 MiB")
            if len(self.buf) < 4 + n:
                break
            frames.append(bytes(self.buf[:4 + n]))
            del self.buf[:4 + n]
        return frames


@dataclass
class Recorder:
    """Collects frames from any number of proxies; ``label`` tags what is recorded from now on."""
    label: str = ""
    frames: list[Frame] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _out: Path | None = None

    def set_label(self, label: str) -> None:
        with self._lock:
            self.label = label

    def stream_to(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self._out = out

    def add(self, link: str, conn: int, direction: str, raw: bytes) -> None:
        with self._lock:
            f = Frame(len(self.frames), self.label, link, conn, direction, time.time(), raw)
            self.frames.append(f)
            if self._out is not None:
                (self._out / f"{f.seq:06d}.bin").write_bytes(raw)
                meta = {"seq": f.seq, "label": f.label, "link": link, "conn": conn, "dir": direction,
                        "time": f.time, "len": len(raw)}
                with open(self._out / "frames.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(meta) + "\n")

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)


class CaptureProxy:
    """Forwards ``listen`` to ``target`` and records the frames of every connection."""

    def __init__(self, name: str, listen: tuple[str, int], target: tuple[str, int], recorder: Recorder):
        self.name = name
        self.listen = listen
        self.target = target
        self.recorder = recorder
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(64)
        self._stopped = threading.Event()
        self._conns: list[socket.socket] = []
        self._next_conn = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"capture-{name}", daemon=True)

    @property
    def addr(self) -> str:
        return f"{self.listen[0]}:{self.listen[1]}"

    def start(self) -> "CaptureProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError as e:
                self.recorder.error(f"{self.name}: cannot connect to {self.target}: {e}")
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                conn = self._next_conn
                self._next_conn += 1
                self._conns += [client, upstream]
            for src, dst, d in ((client, upstream, "c2s"), (upstream, client, "s2c")):
                threading.Thread(target=self._pump, args=(src, dst, conn, d), daemon=True,
                                 name=f"capture-{self.name}-{conn}-{d}").start()

    def _pump(self, src: socket.socket, dst: socket.socket, conn: int, direction: str) -> None:
        splitter = _Splitter()
        broken = False
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)  # forward first: recording never delays the peer
                if broken:
                    continue
                try:
                    for raw in splitter.feed(data):
                        self.recorder.add(self.name, conn, direction, raw)
                except FrameError as e:
                    broken = True
                    self.recorder.error(f"{self.name} conn {conn} {direction}: {e}")
        except OSError:
            pass
        finally:
            if splitter.buf and not broken and not self._stopped.is_set():
                self.recorder.error(f"{self.name} conn {conn} {direction}: {len(splitter.buf)} bytes of "
                                    f"an incomplete frame at close")
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m harness.capture",
                                description="Recording proxy for RocketMQ remoting frames.")
    p.add_argument("--listen", required=True, help="HOST:PORT to accept connections on")
    p.add_argument("--target", required=True, help="HOST:PORT to forward them to")
    p.add_argument("--out", required=True, help="directory for NNNNNN.bin frames and frames.jsonl")
    p.add_argument("--name", default="proxy")
    a = p.parse_args(argv)
    rec = Recorder(label="manual")
    rec.stream_to(Path(a.out))
    proxy = CaptureProxy(a.name, _hostport(a.listen), _hostport(a.target), rec).start()
    print(f"recording {proxy.addr} -> {a.target} into {a.out}; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        proxy.stop()
    for e in rec.errors:
        print("error:", e)
    print(f"{len(rec.frames)} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
