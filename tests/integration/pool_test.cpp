// Pools (DESIGN §8; API.md "Pools"): an IsolateRunner runs its tasks one at a
// time, in order, in one process; a LoadBalancer sends each task to the least
// loaded runner, exactly as package:isolate does, and heals itself when a
// runner dies or times out.
//
// Every wait has a deadline (scaled in sanitizer
// runs); nothing asserts on how long something took. A task that must stay
// busy waits at a "gate" the test opens, so no test depends on timing. Every
// runner and pool is closed (by its destructor at the latest) before the test
// returns, and the suite checks that no process or segment is left.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"
#include "support/gates.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// ---- tasks; they run in the runners' processes

int square(int x) { return x * x; }

int my_pid(int) { return static_cast<int>(::getpid()); }

int refuse(int) { throw std::invalid_argument("no, thank you"); }

// The how-manieth task of this process this is.
int sequence_number(int) {
  static int count = 0;
  return ++count;
}

// How many tasks of this process run at this moment.
int tasks_running_at_once(int) {
  static std::atomic<int> running{0};
  const int seen = ++running;
  std::this_thread::sleep_for(2ms);
  --running;
  return seen;
}

int sleep_then_return(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

std::set<int> pids_of(std::vector<std::future<int>>& futures) {
  std::set<int> pids;
  for (auto& future : futures) {
    REQUIRE(ready(future));
    pids.insert(future.get());
  }
  return pids;
}

LoadBalancer pool_of(std::size_t n) {
  return LoadBalancer::create(n, [] { return IsolateRunner::spawn(); });
}

}  // namespace

// ------------------------------------------------------------ IsolateRunner

TEST_CASE("a runner runs its tasks in one process, in order, one at a time", "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  const int pid = runner.isolate().pid();
  CHECK(pid > 0);
  CHECK(pid != ::getpid());

  std::vector<std::future<int>> pids, sequence, at_once;
  for (int i = 0; i < 30; ++i) {
    pids.push_back(runner.run(&my_pid, 0));
    sequence.push_back(runner.run(&sequence_number, 0));
    at_once.push_back(runner.run(&tasks_running_at_once, 0));
  }
  auto squared = runner.run([](int x) { return x * x; }, 12);
  auto refused = runner.run(&refuse, 1);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(ready(pids[static_cast<std::size_t>(i)]));
    CHECK(pids[static_cast<std::size_t>(i)].get() == pid);
    REQUIRE(ready(sequence[static_cast<std::size_t>(i)]));
    CHECK(sequence[static_cast<std::size_t>(i)].get() == i + 1);
    REQUIRE(ready(at_once[static_cast<std::size_t>(i)]));
    CHECK(at_once[static_cast<std::size_t>(i)].get() == 1);
  }
  REQUIRE(ready(squared));
  CHECK(squared.get() == 144);
  REQUIRE(ready(refused));
  try {
    refused.get();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.type_name() == "std::invalid_argument");
    CHECK(e.message() == "no, thank you");
  }
  // The runner survives a task's exception.
  auto after = runner.run(&square, 3);
  REQUIRE(ready(after));
  CHECK(after.get() == 9);

  IsolateRunner moved = std::move(runner);
  CHECK(moved.isolate().pid() == pid);
  moved.close();
  CHECK(process_gone(pid));
}

TEST_CASE("a runner answers ping while a task runs", "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  ReceivePort gates;
  auto busy = runner.run(&gated, gates.send_port());
  const Gate gate = wait_at_gate(gates);
  CHECK(runner.ping(deadline_of(10s)));
  CHECK(busy.wait_for(0ms) == std::future_status::timeout);  // the gate is still shut
  gate.open_port.send(true);
  REQUIRE(ready(busy));
  CHECK(busy.get() == gate.pid);
  runner.close();
  CHECK_FALSE(runner.ping(100ms));
}

TEST_CASE("a paused runner starts no task until resumed", "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  const Capability resume = runner.isolate().pause();
  auto held = runner.run(&square, 5);
  CHECK(held.wait_for(deadline_of(300ms)) == std::future_status::timeout);
  CHECK(runner.ping(deadline_of(10s)));  // the control plane is not paused
  runner.isolate().resume(resume);
  REQUIRE(ready(held));
  CHECK(held.get() == 25);
  runner.close();
}

TEST_CASE("close finishes the queued tasks, then the worker ends", "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  const int pid = runner.isolate().pid();
  std::vector<std::future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(runner.run(&sleep_then_return, 20 + i));
  runner.close();
  for (int i = 0; i < 5; ++i) {
    auto& future = queued[static_cast<std::size_t>(i)];
    REQUIRE(future.wait_for(0ms) == std::future_status::ready);
    CHECK(future.get() == 20 + i);
  }
  CHECK(process_gone(pid));
  auto late = runner.run(&square, 2);
  REQUIRE(ready(late));
  CHECK_THROWS_AS(late.get(), Error);
}

TEST_CASE("kill ends a busy runner, and its running and queued tasks fail with IsolateExited",
          "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  const int pid = runner.isolate().pid();
  ReceivePort gates;
  auto running = runner.run(&gated, gates.send_port());
  auto queued = runner.run(&square, 4);
  wait_at_gate(gates);  // never opened: only the immediate kill ends it
  runner.kill(deadline_of(200ms));
  CHECK(process_gone(pid));
  REQUIRE(ready(running));
  CHECK_THROWS_AS(running.get(), IsolateExited);
  REQUIRE(ready(queued));
  CHECK_THROWS_AS(queued.get(), IsolateExited);
  runner.close();  // nothing left to do
}

TEST_CASE("a task that times out fails with TimeoutError and its runner is killed",
          "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  const int pid = runner.isolate().pid();
  ReceivePort gates;
  RunOptions options;
  options.timeout = 200ms;
  auto stuck = runner.run(&gated, gates.send_port(), options);
  wait_at_gate(gates);
  REQUIRE(ready(stuck));
  CHECK_THROWS_AS(stuck.get(), TimeoutError);
  CHECK(eventually([&] { return process_gone(pid); }));
  runner.close();
}

TEST_CASE("a runner whose process is SIGKILLed fails its task with IsolateExited naming SIGKILL",
          "[pool][runner]") {
  IsolateRunner runner = IsolateRunner::spawn();
  ReceivePort gates;
  auto running = runner.run(&gated, gates.send_port());
  const Gate gate = wait_at_gate(gates);
  REQUIRE(::kill(gate.pid, SIGKILL) == 0);
  REQUIRE(ready(running));
  try {
    running.get();
    FAIL("no exception");
  } catch (const IsolateExited& e) {
    CHECK(e.signal() == SIGKILL);
    CHECK_THAT(e.what(), Catch::Contains("SIGKILL"));
  }
  runner.close();
}

// ------------------------------------------------------------- LoadBalancer

TEST_CASE("the least loaded runner gets the task, ties go to the lowest index",
          "[pool][balancer]") {
  LoadBalancer pool = pool_of(2);
  REQUIRE(pool.size() == 2);

  // All idle: always the first runner.
  std::set<int> idle_pids;
  for (int i = 0; i < 3; ++i) {
    auto future = pool.run(&my_pid, 0);
    REQUIRE(ready(future));
    idle_pids.insert(future.get());
  }
  REQUIRE(idle_pids.size() == 1);
  const int first = *idle_pids.begin();

  // A busy runner with load 1 sends the next task to the idle one.
  ReceivePort gates;
  auto busy = pool.run(&gated, gates.send_port(), 1);
  const Gate gate = wait_at_gate(gates);
  CHECK(gate.pid == first);
  auto other = pool.run(&my_pid, 0);
  REQUIRE(ready(other));
  const int second = other.get();
  CHECK(second != first);

  // Its load is given back with the result: a tie again, so the first.
  gate.open_port.send(true);
  REQUIRE(ready(busy));
  CHECK(busy.get() == first);
  auto again = pool.run(&my_pid, 0);
  REQUIRE(ready(again));
  CHECK(again.get() == first);

  CHECK_THROWS_AS(pool.run(&my_pid, 0, -1), UsageError);
  pool.close();
  pool.close();  // idempotent
  CHECK(pool.size() == 0);
}

TEST_CASE("run_multiple runs on distinct runners", "[pool][balancer]") {
  LoadBalancer pool = pool_of(3);
  auto futures = pool.run_multiple(3, &my_pid, 0);
  REQUIRE(futures.size() == 3);
  CHECK(pids_of(futures).size() == 3);
  auto two = pool.run_multiple(2, &my_pid, 0);
  CHECK(pids_of(two).size() == 2);
  CHECK_THROWS_AS(pool.run_multiple(4, &my_pid, 0), UsageError);
  CHECK_THROWS_AS(pool.run_multiple(1, &my_pid, 0, -5), UsageError);
}

TEST_CASE("100,000 tiny tasks through a pool of 4, every result checked", "[pool][balancer]") {
  LoadBalancer pool = pool_of(4);
  constexpr int kTasks = 100000;
  std::vector<std::future<int>> results;
  results.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) results.push_back(pool.run(&square, i % 40000, 1));
  int wrong = 0;
  for (int i = 0; i < kTasks; ++i) {
    auto& future = results[static_cast<std::size_t>(i)];
    REQUIRE(ready(future, 60s));
    if (future.get() != (i % 40000) * (i % 40000)) ++wrong;
  }
  CHECK(wrong == 0);
  pool.close();
}

TEST_CASE("a SIGKILLed runner fails its task with IsolateExited and is replaced",
          "[pool][balancer][healing]") {
  LoadBalancer pool = pool_of(2);
  ReceivePort gates;
  auto running = pool.run(&gated, gates.send_port());
  const Gate gate = wait_at_gate(gates);
  REQUIRE(::kill(gate.pid, SIGKILL) == 0);
  REQUIRE(ready(running));
  try {
    running.get();
    FAIL("no exception");
  } catch (const IsolateExited& e) {
    CHECK(e.signal() == SIGKILL);
  }
  CHECK(eventually([&] { return pool.size() == 2; }));
  auto both = pool.run_multiple(2, &my_pid, 0);
  const std::set<int> pids = pids_of(both);
  CHECK(pids.size() == 2);
  CHECK_FALSE(pids.contains(gate.pid));
}

TEST_CASE("with retries, a task whose runner is killed runs again on another",
          "[pool][balancer][healing]") {
  LoadBalancer pool = pool_of(2);
  ReceivePort gates;
  RunOptions options;
  options.retries = 1;
  auto task = pool.run(&gated, gates.send_port(), 100, options);
  const Gate first = wait_at_gate(gates);
  REQUIRE(::kill(first.pid, SIGKILL) == 0);
  const Gate second = wait_at_gate(gates);
  CHECK(second.pid != first.pid);
  second.open_port.send(true);
  REQUIRE(ready(task));
  CHECK(task.get() == second.pid);
  CHECK(eventually([&] { return pool.size() == 2; }));
}

TEST_CASE("a task that times out in a pool fails with TimeoutError and its runner is replaced",
          "[pool][balancer][healing]") {
  LoadBalancer pool = pool_of(2);
  ReceivePort gates;
  RunOptions options;
  options.timeout = 200ms;
  auto stuck = pool.run(&gated, gates.send_port(), 100, options);
  const Gate gate = wait_at_gate(gates);
  REQUIRE(ready(stuck));
  CHECK_THROWS_AS(stuck.get(), TimeoutError);
  CHECK(eventually([&] { return process_gone(gate.pid); }));
  CHECK(eventually([&] { return pool.size() == 2; }));
  auto both = pool.run_multiple(2, &my_pid, 0);
  const std::set<int> pids = pids_of(both);
  CHECK(pids.size() == 2);
  CHECK_FALSE(pids.contains(gate.pid));
}

TEST_CASE("a pool whose factory fails closes the runners it started and throws",
          "[pool][balancer]") {
  std::atomic<int> calls{0};
  auto failing = [&calls] {
    if (++calls == 2) throw std::runtime_error("no runner today");
    return IsolateRunner::spawn();
  };
  CHECK_THROWS_WITH(LoadBalancer::create(3, failing), "no runner today");
  CHECK(calls == 3);
}

TEST_CASE("a task queued behind one that timed out runs on another runner, using no retry",
          "[pool][balancer][healing]") {
  LoadBalancer pool = pool_of(2);
  ReceivePort gates;
  // Both runners busy, the first with a task that will time out.
  RunOptions stuck_options;
  stuck_options.timeout = 300ms;
  auto stuck = pool.run(&gated, gates.send_port(), 100, stuck_options);
  const Gate stuck_gate = wait_at_gate(gates);
  auto other = pool.run(&gated, gates.send_port(), 100);
  const Gate other_gate = wait_at_gate(gates);
  CHECK(other_gate.pid != stuck_gate.pid);
  // Queued behind the stuck task (a tie of loads goes to the first runner).
  auto queued = pool.run(&my_pid, 0);
  REQUIRE(ready(stuck));
  CHECK_THROWS_AS(stuck.get(), TimeoutError);
  // It never started on the killed runner, so it runs elsewhere.
  other_gate.open_port.send(true);
  REQUIRE(ready(queued));
  const int ran_on = queued.get();
  CHECK(ran_on != stuck_gate.pid);
  REQUIRE(ready(other));
  CHECK(eventually([&] { return pool.size() == 2; }));
}

TEST_CASE("a pool of 256 runners starts them all, and each runs a task", "[pool][balancer]") {
  // In parallel, through the zygote; the root hears from 256 processes at once.
  auto pool = LoadBalancer::create(256, [] { return IsolateRunner::spawn(); });
  CHECK(pool.size() == 256);
  auto all = pool.run_multiple(256, &my_pid, 0);
  std::set<int> pids;
  for (auto& future : all) {
    REQUIRE(future.wait_for(deadline_of(60s)) == std::future_status::ready);
    pids.insert(future.get());
  }
  CHECK(pids.size() == 256);
  pool.close();
}
