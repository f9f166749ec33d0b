#include "spawn_bench.hpp"

#include "pinning.hpp"
#include "process_memory.hpp"
#include "stats.hpp"
#include "isolated/src/zygote_client.hpp"

#include <isolated/isolated.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace isolated::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kHostBytes = std::size_t{1} << 30;
constexpr std::size_t kHostRounds = 3;  // small and 1 GiB host in turns

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

Summary sample(std::size_t count, const std::function<double()>& once) {
  std::vector<double> samples;
  samples.reserve(count);
  for (std::size_t i = 0; i < count; ++i) samples.push_back(once());
  return summarize(std::move(samples));
}

// ------------------------------------------------------------- the entries

int trivial(int x) { return x + 1; }

// Runs, says so, returns: the isolate ends.
void say_hello(SendPort to_root) { to_root.send(1); }

// Says its pid, then waits until it is killed.
void stay_idle(SendPort to_root) {
  to_root.send(static_cast<int>(::getpid()));
  ReceivePort().receive();
}

// ------------------------------------------------------------- the peers

double posix_spawn_and_wait() {
  char program[] = ISOLATED_BENCH_TRIVIAL_PROGRAM;
  char* argv[] = {program, nullptr};
  const auto start = Clock::now();
  pid_t pid = 0;
  if (::posix_spawn(&pid, program, nullptr, nullptr, argv, environ) != 0) {
    throw std::runtime_error("posix_spawn of the trivial program failed");
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double us = micros_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the trivial program failed");
  }
  return us;
}

double fork_and_wait() {
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  if (pid < 0) throw std::runtime_error("fork failed");
  ::waitpid(pid, nullptr, 0);
  return micros_since(start);
}

// --------------------------------------------------------------- ours

double compute_once() {
  const auto start = Clock::now();
  if (compute(&trivial, 1).get() != 2) throw std::runtime_error("compute gave a wrong result");
  return micros_since(start);
}

// From Isolate::spawn until the entry's message is in; the end (waited for
// before the next sample) is not timed.
double spawn_until_the_entry_runs() {
  ReceivePort hello;
  ReceivePort exited;
  SpawnOptions options;
  options.on_exit = exited.send_port();
  const auto start = Clock::now();
  Isolate::spawn(&say_hello, hello.send_port(), options);
  hello.receive();
  const double us = micros_since(start);
  if (!exited.receive_for(10s)) throw std::runtime_error("an isolate did not end");
  return us;
}

// Isolates that wait until they are killed.
class IdleIsolates {
 public:
  // Spawns `count` and waits until each has said its pid.
  explicit IdleIsolates(std::size_t count) {
    SpawnOptions options;
    options.debug_name = "idle";
    options.on_exit = exited_.send_port();
    try {
      for (std::size_t i = 0; i < count; ++i) {
        isolates_.push_back(Isolate::spawn(&stay_idle, heard_.send_port(), options));
      }
      for (std::size_t i = 0; i < count; ++i) pids_.push_back(heard_.receive().as<int>());
    } catch (...) {
      end_all();
      throw;
    }
  }
  ~IdleIsolates() { end_all(); }
  IdleIsolates(const IdleIsolates&) = delete;
  IdleIsolates& operator=(const IdleIsolates&) = delete;

  const std::vector<int>& pids() const { return pids_; }

 private:
  void end_all() {
    for (auto& isolate : isolates_) isolate.kill(Priority::immediate);
    for (std::size_t i = 0; i < isolates_.size(); ++i) exited_.receive_for(30s);
    isolates_.clear();
  }

  ReceivePort heard_;
  ReceivePort exited_;
  std::vector<Isolate> isolates_;
  std::vector<int> pids_;
};

// Seconds from the first spawn until every one of `count` isolates has been
// heard from.
double isolates_heard_from(std::size_t count) {
  const auto start = Clock::now();
  const IdleIsolates isolates(count);
  return micros_since(start) / 1e6;
}

ProcessMemory average_idle_memory(std::size_t count) {
  const IdleIsolates isolates(count);
  std::this_thread::sleep_for(200ms);  // settled: their runtimes wait
  const std::string binary = std::filesystem::read_symlink("/proc/self/exe").string();
  ProcessMemory sum;
  for (const int pid : isolates.pids()) {
    const ProcessMemory one = process_memory(pid, binary);
    sum.pss_kib += one.pss_kib;
    sum.binary_pss_kib += one.binary_pss_kib;
    sum.anon_pss_kib += one.anon_pss_kib;
    sum.shmem_pss_kib += one.shmem_pss_kib;
  }
  const double n = static_cast<double>(count);
  return {sum.pss_kib / n, sum.binary_pss_kib / n, sum.anon_pss_kib / n, sum.shmem_pss_kib / n};
}

// 1 GiB of this process, resident in 4 KiB pages (as a heap of small
// objects would be; a transparent huge page would make fork's page-table
// copy cheaper than a real host's).
class HostMemory {
 public:
  HostMemory() {
    memory_ = ::mmap(nullptr, kHostBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory_ == MAP_FAILED) throw std::runtime_error("cannot map 1 GiB");
    ::madvise(memory_, kHostBytes, MADV_NOHUGEPAGE);
    std::memset(memory_, 1, kHostBytes);
  }
  ~HostMemory() { ::munmap(memory_, kHostBytes); }
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

 private:
  void* memory_ = nullptr;
};

// The zygote is started again from the host as it is now (exec: it is small
// whatever the host's size), with a spare to start from.
void fresh_zygote() {
  detail::stop_zygote(10s);
  compute_once();
}

// ---------------------------------------------------------------- printing

void row(const char* name, const Summary& s, const Summary& reference) {
  std::printf("  %-50s %9.1f %9.1f   %6.2fx\n", name, s.median_us, s.p99_us,
              s.median_us / reference.median_us);
}

void target(const char* what, double value, const char* unit, bool met) {
  std::printf("  %-52s %8.2f%s  %s\n", what, value, unit, met ? "met" : "NOT MET");
}

}  // namespace

int spawn(bool quick, bool pin_children) {
  const std::size_t n = quick ? 50 : 300;
  const std::size_t big_forks = quick ? 3 : 10;
  const std::size_t many = 1000;
  const std::size_t idle = quick ? 16 : 64;
  const int child_cpu = online_cpus() >= 2 ? 1 : 0;
  std::printf("isolated-bench spawn: medians of %zu (p99 beside), this run's posix_spawn as 1x\n",
              n);
  if (pin_children) {
    std::printf("measuring thread on CPU 0; the launcher thread, the zygote and so every isolate\n"
                "on CPU %d; posix_spawn's and fork's children on CPU 0 (their parent waits)\n\n",
                child_cpu);
  } else {
    std::printf("measuring thread on CPU 0, with posix_spawn's and fork's children (their parent\n"
                "waits); isolates where the scheduler puts them (--pin-children: on CPU %d)\n\n",
                child_cpu);
  }
  if (pin_children) {
    // The launcher and supervisor threads start here and keep this CPU, and
    // so do the zygote and its children.
    const ScopedPin pin(child_cpu);
    compute_once();
  }
  const ScopedPin pin(0);

  // Warm: the trivial program's pages are in the page cache.
  for (int i = 0; i < 5; ++i) posix_spawn_and_wait();
  const Summary posix = sample(n, posix_spawn_and_wait);
  const Summary forked = sample(n, fork_and_wait);
  const Summary computed = sample(n, compute_once);
  const Summary spawned = sample(n, spawn_until_the_entry_runs);
  detail::set_zygote_enabled(false);
  const Summary computed_exec = sample(n / 2, compute_once);
  const Summary spawned_exec = sample(n / 2, spawn_until_the_entry_runs);
  detail::set_zygote_enabled(true);

  // Small and 1 GiB host in turns, so that both see the same machine (others
  // share it); each time the zygote is started again from the host as it is.
  std::vector<double> small_host;
  std::vector<double> big_host;
  Summary forked_big{};
  for (std::size_t round = 0; round < kHostRounds; ++round) {
    for (std::size_t i = 0; i < n / kHostRounds; ++i) small_host.push_back(spawn_until_the_entry_runs());
    const HostMemory host;
    fresh_zygote();
    for (std::size_t i = 0; i < n / kHostRounds; ++i) big_host.push_back(spawn_until_the_entry_runs());
    // Ours first: the forks' teardown of 1 GiB of page tables would still be
    // under way.
    if (round == 0) forked_big = sample(big_forks, fork_and_wait);
  }
  fresh_zygote();
  const Summary spawned_small = summarize(small_host);
  const Summary spawned_big = summarize(big_host);

  std::optional<double> many_seconds;
  std::string many_failure;
  try {
    many_seconds = isolates_heard_from(many);
  } catch (const std::exception& e) {
    many_failure = e.what();
  }
  const ProcessMemory memory = average_idle_memory(idle);

  std::printf("%-52s %9s %9s   %7s\n", "", "median us", "p99 us", "vs spawn");
  row("posix_spawn + wait, trivial C++ program", posix, posix);
  row("fork + wait, this (small) process", forked, posix);
  row("compute() of a trivial function", computed, posix);
  row("Isolate::spawn until the entry runs", spawned, posix);
  row("compute(), exec'd (no zygote)", computed_exec, posix);
  row("Isolate::spawn until the entry runs, exec'd", spawned_exec, posix);
  row("fork + wait, 1 GiB host", forked_big, posix);
  row("Isolate::spawn until the entry runs, small host", spawned_small, posix);
  row("Isolate::spawn until the entry runs, 1 GiB host", spawned_big, posix);
  if (many_seconds) {
    std::printf("  %-50s %9.3f s\n", "1,000 isolates spawned, each heard from", *many_seconds);
  } else {
    std::printf("  %-50s failed: %s\n", "1,000 isolates spawned, each heard from",
                many_failure.c_str());
  }
  std::printf("  idle isolate (mean of %zu), Pss: %.0f KiB = %.0f binary + %.0f beyond it\n"
              "    (of which anonymous %.0f, shared memory %.0f, other files %.0f)\n",
              idle, memory.pss_kib, memory.binary_pss_kib, memory.beyond_binary_kib(),
              memory.anon_pss_kib, memory.shmem_pss_kib,
              memory.beyond_binary_kib() - memory.anon_pss_kib - memory.shmem_pss_kib);

  const double compute_ratio = computed.median_us / posix.median_us;
  const double spawn_ratio = spawned.median_us / posix.median_us;
  const double host_ratio = spawned_big.median_us / spawned_small.median_us;
  std::printf("\nTargets:\n");
  target("compute() <= 0.25x posix_spawn + wait", compute_ratio, "x", compute_ratio <= 0.25);
  target("Isolate::spawn until the entry runs <= 0.2x", spawn_ratio, "x", spawn_ratio <= 0.2);
  target("1,000 isolates heard from <= 1.5 s", many_seconds.value_or(-1), " s",
         many_seconds && *many_seconds <= 1.5);
  target("spawn from a 1 GiB host <= 1.1x a small host's", host_ratio, "x", host_ratio <= 1.1);
  target("idle isolate beyond the binary <= 1 MiB", memory.beyond_binary_kib() / 1024, " MiB",
         memory.beyond_binary_kib() <= 1024);
  return 0;
}

}  // namespace isolated::bench
