"""RSS of our broker while slow consumers pull without ever reading their sockets.

Usage: python3 bench/slow_consumer_rss.py target/release/mqbroker
Starts the broker on a loopback port with a temporary store, stores 2000 x 100 KiB messages,
then opens 4 connections (4 KiB receive buffers) that each send 600 PULL requests and never read;
prints VmRSS/RssAnon/RssFile (MiB) idle, after storing, the peak over 20 s of slow consumers and
after the broker's 30 s write-stall timeout, and how often the broker closed a stalled
connection. Everything stays on 127.0.0.1 and the broker is stopped at the end.
"""
import json, os, socket, struct, subprocess, sys, time, tempfile

EXE = sys.argv[1]
N_MSG = 2000
BODY = 100 * 1024
SLOW = 4
PULLS = 600

def frame(code, opaque, ext, body=b""):
    h = json.dumps({"code": code, "language": "JAVA", "version": 399, "opaque": opaque,
                    "flag": 0, "extFields": ext}).encode()
    return struct.pack(">ii", 4 + len(h) + len(body), len(h)) + h + body

def read_frame(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    total, = struct.unpack(">i", exact(4))
    data = exact(total)
    hl = struct.unpack(">i", data[:4])[0] & 0xFFFFFF
    return json.loads(data[4:4 + hl]), data[4 + hl:]

def rss(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) // 1024
    return out

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

d = tempfile.mkdtemp(prefix="reliab-rss-")
port = free_port()
conf = os.path.join(d, "broker.conf")
with open(conf, "w") as f:
    f.write(f"brokerName=broker-rss\nlistenPort={port}\nstorePathRootDir={d}/store\n"
            f"namesrvAddr=127.0.0.1:1\nbrokerIP1=127.0.0.1\n")
proc = subprocess.Popen([EXE, "-c", conf], stdout=open(os.path.join(d, "out.log"), "w"),
                        stderr=subprocess.STDOUT, cwd=d)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); break
        except OSError:
            time.sleep(0.1)
    print("idle", rss(proc.pid))
    s = socket.create_connection(("127.0.0.1", port))
    body = b"x" * BODY
    for i in range(N_MSG):
        ext = {"a": "pg", "b": "TopicSlow", "c": "TBW102", "d": "1", "e": "0", "f": "0",
               "g": "1700000000000", "h": "0", "i": "WAIT\u0001false\u0002", "j": "0",
               "k": "false", "m": "false"}
        s.sendall(frame(310, i, ext, body))
        if i % 50 == 49:
            for _ in range(50):
                h, _ = read_frame(s)
                assert h["code"] == 0, h
    s.close()
    time.sleep(2)
    print(f"after storing {N_MSG} x {BODY // 1024} KiB", rss(proc.pid))
    slow = []
    for c in range(SLOW):
        k = socket.socket()
        k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        k.connect(("127.0.0.1", port))
        k.setblocking(False)
        sent = 0
        for j in range(PULLS):
            off = (j * 2) % N_MSG
            ext = {"consumerGroup": f"cg{c}", "topic": "TopicSlow", "queueId": "0",
                   "queueOffset": str(off), "maxMsgNums": "32", "sysFlag": "4",
                   "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*",
                   "subVersion": "0", "expressionType": "TAG"}
            data = frame(11, j, ext)
            k.settimeout(5)
            try:
                k.sendall(data)
            except (socket.timeout, OSError):
                break
            sent += 1
        print(f"slow consumer {c}: {sent} pull requests sent")
        slow.append(k)
    peak = {}
    t0 = time.time()
    while time.time() - t0 < 20:
        r = rss(proc.pid)
        for key, v in r.items():
            peak[key] = max(peak.get(key, 0), v)
        time.sleep(0.5)
    print(f"{SLOW} slow consumers x {PULLS} pulls (never read), peak over 20 s", peak)
    time.sleep(20)
    print("after the write-stall timeout (30 s)", rss(proc.pid))
    closed = open(os.path.join(d, "out.log")).read().count("peer is not reading its responses")
    print("connections closed by the broker for not reading:", closed)
finally:
    proc.terminate(); proc.wait(10)
