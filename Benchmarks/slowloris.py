#!/usr/bin/env python3
"""Half-sent requests against `swiftrec serve` on port 8391: how many the server closes after
`--idle-timeout`, and whether a fresh request is still answered.

    swiftrec serve --db /tmp/s.sqlite --port 8391 --idle-timeout 2 &
    python3 Benchmarks/slowloris.py 1000 3.0    # connections, seconds to wait
"""
import socket, time, sys, urllib.request
n = int(sys.argv[1]); wait = float(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", 8391))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
    socks.append(s)
t0 = time.time()
time.sleep(wait)
import select
def count_closed():
    readable, _, _ = select.select(socks, [], [], 0)
    closed = 0
    for s in readable:
        try:
            if s.recv(100, socket.MSG_PEEK) == b"": closed += 1
        except OSError:
            closed += 1
    return closed
closed = count_closed()
print(f"{n} half-sent requests; after {wait:.1f} s, {closed} closed by the server")
t = time.time(); r = urllib.request.urlopen("http://127.0.0.1:8391/health", timeout=5).read(); print("fresh GET /health:", r.decode()[:80], f"{(time.time()-t)*1000:.0f} ms")
