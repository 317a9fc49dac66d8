#!/usr/bin/env python3
"""Crash test: is every acknowledged event still there after `kill -9`?

Each trial starts `swiftrec serve` on a SQLite file, posts single events from several client
threads as fast as the server takes them, kills the server with SIGKILL after a random
0.5–2.5 s, and then opens the database (SQLite recovers the WAL on open) to check that every
event that received a 2xx is stored. Prints a table on stderr and one JSON line on stdout:
{"results": [{"trials": …, "acknowledged": …, "missing": …, …}]}.

Usage (from the repo root, after `swift build -c release`):
  python3 Benchmarks/crash_test.py --trials 20
"""
import argparse, http.client, json, os, random, signal, sqlite3, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_until_up(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.05)
    return False


def poster(port, trial, worker, acknowledged, stop):
    n = 0
    conn = None
    while not stop.is_set():
        body = json.dumps({"user": f"crash-{trial}-{worker}", "item": f"i{n % 10}", "timestamp": n})
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", "/events", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                acknowledged.append((f"crash-{trial}-{worker}", n))
        except (OSError, http.client.HTTPException):
            conn = None
            if stop.is_set():
                break
            time.sleep(0.01)
        n += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swiftrec", default=os.path.join(ROOT, ".build/release/swiftrec"))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--port", type=int, default=18181)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    workdir = tempfile.mkdtemp(prefix="swiftrec-crash-")
    db = os.path.join(workdir, "crash.sqlite")
    total_ack = total_missing = 0
    rows = []
    for trial in range(a.trials):
        server = subprocess.Popen([a.swiftrec, "serve", "--db", db, "--port", str(a.port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until_up(a.port):
            server.kill()
            sys.exit("the server did not start")
        if trial == 0:
            c = http.client.HTTPConnection("127.0.0.1", a.port)
            for i in range(10):
                c.request("PUT", f"/items/i{i}", "{}", {"Content-Type": "application/json"})
                c.getresponse().read()
        acknowledged, stop = [], threading.Event()
        threads = [threading.Thread(target=poster, args=(a.port, trial, w, acknowledged, stop))
                   for w in range(a.clients)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.5, 2.5))
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        stop.set()
        for t in threads:
            t.join()
        con = sqlite3.connect(db)
        stored = set(con.execute("SELECT user, timestamp FROM event WHERE user LIKE ?", (f"crash-{trial}-%",)))
        con.close()
        missing = [e for e in acknowledged if e not in stored]
        total_ack += len(acknowledged)
        total_missing += len(missing)
        rows.append({"trial": trial + 1, "acknowledged": len(acknowledged), "stored": len(stored),
                     "missing": len(missing)})
        print(f"trial {trial + 1}: {len(acknowledged)} acknowledged, {len(stored)} stored, {len(missing)} missing",
              file=sys.stderr, flush=True)
    print(f"{a.trials} trials of kill -9 during posting: {total_ack} events acknowledged, {total_missing} missing",
          file=sys.stderr)
    print("command: python3 Benchmarks/crash_test.py " + " ".join(sys.argv[1:]), file=sys.stderr)
    print(json.dumps({"results": [{"trials": a.trials, "clients": a.clients, "acknowledged": total_ack,
                                   "missing": total_missing, "per_trial": rows}]}))


if __name__ == "__main__":
    main()
