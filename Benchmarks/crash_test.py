#!/usr/bin/env python3
"""Crash test: is every acknowledged write still there after `kill -9`, and is no half-written
model ever loaded?

Each trial starts `swiftrec serve` on a SQLite file, posts single events from several client
threads as fast as the server takes them, and kills the server with SIGKILL after a random
0.5–2.5 s. Trials rotate through three kinds:
  posting   events only;
  training  also `POST /train` of a small SASRec with a short time budget, so the kill lands
            while it trains, saves or registers;
  deletion  also `DELETE /users/{id}` of users from earlier trials.
After each kill the database is opened (SQLite recovers the WAL on open) to check that every
event that received a 2xx is stored and that every acknowledged deletion left no event or
attribute row of that user; the next start of the server reports any registered model it
cannot load (a half-written model would be one). Prints a table on stderr and one JSON line on
stdout: {"results": [{"trials": …, "acknowledged": …, "missing": …, …}]}.

Usage (from the repo root, after `swift build -c release`):
  python3 Benchmarks/crash_test.py --trials 21
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


def deleter(port, trial, deleted, stop):
    """Deletes users of earlier trials, one at a time, recording the acknowledged ones."""
    conn = None
    candidates = [f"crash-{t}-{w}" for t in range(trial) for w in range(4)]
    random.shuffle(candidates)
    for user in candidates:
        if stop.is_set():
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("DELETE", f"/users/{user}")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                deleted.append(user)
        except (OSError, http.client.HTTPException):
            conn = None
            if stop.is_set():
                break
        time.sleep(0.05)


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
    all_deleted, resurrected, unloadable, trainings, registered = [], 0, 0, 0, 0
    rows = []
    kinds = ["posting", "training", "deletion"]
    for trial in range(a.trials + 1):
        log_path = os.path.join(workdir, f"serve-{trial}.log")
        with open(log_path, "w") as log:
            server = subprocess.Popen([a.swiftrec, "serve", "--db", db, "--port", str(a.port)],
                                      stdout=subprocess.DEVNULL, stderr=log)
        if not wait_until_up(a.port):
            server.kill()
            sys.exit("the server did not start")
        # Every start after a kill: models that are registered but cannot be loaded.
        with open(log_path) as log:
            unloadable += sum("could not be loaded" in line for line in log)
        if trial == a.trials:  # the last start only checks what the last kill left
            server.kill()
            server.wait()
            break
        kind = kinds[trial % 3]
        if trial == 0:
            c = http.client.HTTPConnection("127.0.0.1", a.port)
            for i in range(10):
                c.request("PUT", f"/items/i{i}", "{}", {"Content-Type": "application/json"})
                c.getresponse().read()
        acknowledged, deleted, stop = [], [], threading.Event()
        threads = [threading.Thread(target=poster, args=(a.port, trial, w, acknowledged, stop))
                   for w in range(a.clients)]
        if kind == "deletion":
            threads.append(threading.Thread(target=deleter, args=(a.port, trial, deleted, stop)))
        for t in threads:
            t.start()
        if kind == "training" and trial > 0:
            body = json.dumps({"model": "sasrec", "name": f"crash-model-{trial % 2}",
                               "options": {"dim": 16, "max-len": 20, "epochs": 50,
                                           "time-budget": random.uniform(0.2, 1.5)}})
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
            c.request("POST", "/train", body, {"Content-Type": "application/json"})
            trainings += c.getresponse().status == 202
        time.sleep(random.uniform(0.5, 2.5))
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        stop.set()
        for t in threads:
            t.join()
        con = sqlite3.connect(db)
        stored = set(con.execute("SELECT user, timestamp FROM event WHERE user LIKE ?", (f"crash-{trial}-%",)))
        all_deleted.extend(deleted)
        back = sum(1 for user in all_deleted
                   if con.execute("SELECT (SELECT COUNT(*) FROM event WHERE user = ?) + "
                                  "(SELECT COUNT(*) FROM user WHERE id = ?)", (user, user)).fetchone()[0] > 0)
        registered = con.execute("SELECT COUNT(*) FROM model").fetchone()[0]
        con.close()
        resurrected = max(resurrected, back)
        missing = [e for e in acknowledged if e not in stored]
        total_ack += len(acknowledged)
        total_missing += len(missing)
        rows.append({"trial": trial + 1, "kind": kind, "acknowledged": len(acknowledged), "stored": len(stored),
                     "missing": len(missing), "deleted": len(deleted)})
        print(f"trial {trial + 1} ({kind}): {len(acknowledged)} acknowledged, {len(stored)} stored, "
              f"{len(missing)} missing, {len(deleted)} users deleted", file=sys.stderr, flush=True)
    print(f"{a.trials} trials of kill -9 ({a.trials // 3} during training, {a.trials // 3} during deletion): "
          f"{total_ack} events acknowledged, {total_missing} missing; {len(all_deleted)} deletions acknowledged, "
          f"{resurrected} users back after a kill; {trainings} trainings started, {registered} models registered "
          f"at the end, {unloadable} registered models that could not be loaded", file=sys.stderr)
    print("command: python3 Benchmarks/crash_test.py " + " ".join(sys.argv[1:]), file=sys.stderr)
    print(json.dumps({"results": [{"trials": a.trials, "clients": a.clients, "acknowledged": total_ack,
                                   "missing": total_missing, "deletions": len(all_deleted),
                                   "deleted_users_back": resurrected, "trainings": trainings, "registered_models": registered,
                                   "unloadable_models": unloadable, "per_trial": rows}]}))


if __name__ == "__main__":
    main()
