// Does Swift's global executor start waiting jobs in the order they were enqueued? A probe
// for the serving tail (BENCHMARKS.md, "Scores computed in arrival order"), outside swiftrec:
//
//   swiftc -O Benchmarks/probes/executor_order.swift -o /tmp/executor_order && /tmp/executor_order
//
// Two tasks keep both executor threads busy for 300 ms while 20 tasks are created 1 ms apart;
// then 20 tasks suspended on continuations are resumed 1 ms apart from a thread outside the
// executor. Prints the order each group started in.
import Foundation
import Synchronization
let order = Mutex<[Int]>([])
func spin(_ ms: Double) { let end = Date().addingTimeInterval(ms/1000); while Date() < end {} }
// Occupy both pool threads.
let busy1 = Task.detached { spin(300) }
let busy2 = Task.detached { spin(300) }
usleep(50_000)
var tasks: [Task<Void, Never>] = []
for i in 0..<20 { tasks.append(Task.detached { order.withLock { $0.append(i) }; spin(1) }); usleep(1000) }
_ = await busy1.value; _ = await busy2.value
for t in tasks { await t.value }
print("task start order:", order.withLock { $0 })
// Continuations resumed from a foreign thread, in order.
let order2 = Mutex<[Int]>([])
let b3 = Task.detached { spin(300) }
let b4 = Task.detached { spin(300) }
usleep(20_000)
let conts = Mutex<[Int: CheckedContinuation<Void, Never>]>([:])
var waiters: [Task<Void, Never>] = []
for i in 0..<20 {
  waiters.append(Task.detached { await withCheckedContinuation { c in conts.withLock { $0[i] = c } }; order2.withLock { $0.append(i) }; spin(1) })
}
while conts.withLock({ $0.count }) < 20 { usleep(1000) }
let t = Thread { for i in 0..<20 { conts.withLock { $0[i]! }.resume(); usleep(1000) } }
t.start()
_ = await b3.value; _ = await b4.value
for w in waiters { await w.value }
print("resume order:", order2.withLock { $0 })
