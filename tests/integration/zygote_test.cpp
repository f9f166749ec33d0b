// The zygote (DESIGN §2, "The zygote"): workers of this program are forked from it,
// as children of the spawner; it survives being killed (the next spawn starts
// another, nothing is orphaned); a forked worker inherits no descriptor, runs
// where its spawner is, draws its own random numbers and has a C library that
// knows its thread; spawns work from a process with threads, from a worker
// with threads, and with an argument too large to travel inline.
//
// Under ThreadSanitizer no zygote serves (every worker is exec'd): the tests
// that need one say so and stop.
#include <catch2/catch.hpp>

#include "support/child_program.hpp"
#include "support/deadlines.hpp"
#include "support/isolate_children.hpp"
#include "support/leftovers.hpp"
#include "common/src/shm/names.hpp"
#include "isolated/src/spawn.hpp"
#include "isolated/src/zygote_client.hpp"

#include <isolated/isolated.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace isolated;
using isolated::test::deadline_of;
using isolated::test::eventually;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kZygoteServes = false;
#else
constexpr bool kZygoteServes = true;
#endif

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string name_of(int pid) {
  std::string name = read_text("/proc/" + std::to_string(pid) + "/comm");
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

// A zygote's child keeps the zygote's command line; an exec'd worker has
// --isolated-worker in its own.
bool forked_from_a_zygote(int pid) {
  const std::string command_line = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  return command_line.find("--isolated-zygote") != std::string::npos;
}

int parent_of(int pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  char state = 0;
  int parent = 0;
  fields >> state >> parent;
  return parent;
}

bool exists(int pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

// The helper of this process named `name` ("isolated-zygote" or
// "isolated-spare"), or 0.
int helper_named(const std::string& name) {
  for (const int pid : detail::zygote_helper_pids()) {
    if (name_of(pid) == name) return pid;
  }
  return 0;
}

// SIGKILLs this process's helper named `name` and waits until the supervisor
// has reaped it, like any child of ours. Returns its pid.
int kill_helper(const std::string& name) {
  const int pid = helper_named(name);
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(eventually([&] { return !exists(pid); }));
  return pid;
}

int my_pid() { return static_cast<int>(::getpid()); }

int plus_one(int x) { return x + 1; }

struct Origin {
  int pid = 0;
  int parent = 0;
  bool forked = false;  // from a zygote
  MSGPACK_DEFINE(pid, parent, forked)
};

// Where this very process comes from (it reads its own /proc entries: it
// may be gone by the time the test could).
Origin origin_of_me() { return Origin{my_pid(), parent_of(my_pid()), forked_from_a_zygote(my_pid())}; }

// Tells the test where it comes from, then returns.
void report_origin(SendPort to_test) { to_test.send(origin_of_me()); }

// Spawns an isolate that reports where it comes from and ends; returns that
// once it has ended, or nothing. (No Catch2 here: workers call it too.)
std::optional<Origin> spawn_and_ask_origin() {
  ReceivePort from_child;
  ReceivePort exited;
  SpawnOptions options;
  options.on_exit = exited.send_port();
  Isolate::spawn(&report_origin, from_child.send_port(), options);
  const auto origin = from_child.receive_for(deadline_of(10s));
  if (!origin || !exited.receive_for(deadline_of(10s))) return std::nullopt;
  return origin->as<Origin>();
}

Origin spawn_one() {
  const auto origin = spawn_and_ask_origin();
  REQUIRE(origin);
  return *origin;
}

// Nothing but the zygote and its spare is left among this process's
// children once the isolates it spawned have ended.
void check_nothing_orphaned() {
  CHECK(eventually([] { return test::isolate_children().empty(); }));
  const std::vector<int> helpers = detail::zygote_helper_pids();
  for (const int pid : helpers) CHECK(parent_of(pid) == my_pid());
  std::vector<int> children = test::live_children();
  std::sort(children.begin(), children.end());
  std::vector<int> sorted_helpers = helpers;
  std::sort(sorted_helpers.begin(), sorted_helpers.end());
  CHECK(children == sorted_helpers);
}

// The descriptors open in this process, but for the one that lists them.
std::vector<int> open_descriptors() {
  std::vector<int> fds;
  const int listing = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    if (fd != listing) fds.push_back(fd);
  }
  ::close(listing);
  std::sort(fds.begin(), fds.end());
  return fds;
}

std::vector<int> descriptors_of_a_worker(int) {
  std::vector<int> fds = open_descriptors();
  // The directory iterator's own descriptor is closed by now, but it may
  // have been listed while it was open.
  std::erase_if(fds, [](int fd) { return ::fcntl(fd, F_GETFD) == -1; });
  return fds;
}

std::string working_directory(int) { return std::filesystem::current_path().string(); }

std::uint64_t a_fresh_port_number(int) {
  ReceivePort port;
  return port.send_port().port_id();
}

// Another thread of the worker reaches the main thread through the C
// library's record of it: its thread id must be the worker's own, not the
// zygote's, for pthread_kill and the thread's CPU clock to work.
std::tuple<int, int> main_thread_as_seen_by_another(int) {
  const pthread_t main_thread = ::pthread_self();
  int kill_result = -1;
  int clock_result = -1;
  std::thread other([&] {
    kill_result = ::pthread_kill(main_thread, 0);
    clockid_t clock{};
    timespec now{};
    clock_result = ::pthread_getcpuclockid(main_thread, &clock);
    if (clock_result == 0) clock_result = ::clock_gettime(clock, &now);
  });
  other.join();
  return {kill_result, clock_result};
}

struct Surroundings {
  int pid = 0;
  int process_group = 0;
  std::uint64_t core_limit = 0;
  std::string input;  // what its stdin held
  MSGPACK_DEFINE(pid, process_group, core_limit, input)
};

// Writes to its stdout and stderr, and tells its reply port what it found.
void write_where_told(SendPort reply) {
  std::printf("out of %d\n", my_pid());
  std::fflush(stdout);
  std::fprintf(stderr, "err of %d\n", my_pid());
  std::fflush(stderr);
  rlimit core{};
  ::getrlimit(RLIMIT_CORE, &core);
  char input[64] = {};
  const ssize_t got = ::read(STDIN_FILENO, input, sizeof input - 1);
  reply.send(Surroundings{my_pid(), static_cast<int>(::getpgid(0)),
                          static_cast<std::uint64_t>(core.rlim_cur),
                          std::string(input, got > 0 ? static_cast<std::size_t>(got) : 0)});
}

std::string drain_pipe(int fd) {
  std::string text;
  char chunk[256];
  for (ssize_t got; (got = ::read(fd, chunk, sizeof chunk)) > 0;) {
    text.append(chunk, static_cast<std::size_t>(got));
  }
  return text;
}

std::uint64_t sum_of(std::vector<std::uint64_t> values) {
  return std::accumulate(values.begin(), values.end(), std::uint64_t{0});
}

// Busy threads: allocate, lock and free until told to stop.
class BusyThreads {
 public:
  explicit BusyThreads(int count) {
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load()) {
          std::lock_guard lock(mutex_);
          std::vector<char> churn(4096 + static_cast<std::size_t>(std::rand() % 4096));
          churn[0] = 1;
        }
      });
    }
  }
  ~BusyThreads() {
    stop_ = true;
    for (auto& thread : threads_) thread.join();
  }
  BusyThreads(const BusyThreads&) = delete;
  BusyThreads& operator=(const BusyThreads&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

// A worker that runs threads of its own and then spawns: its zygote serves
// it as this process's serves this one. Returns its pid and where its leaf
// comes from.
std::tuple<int, Origin> spawn_from_a_busy_worker(int) {
  const BusyThreads busy(3);
  const auto leaf = spawn_and_ask_origin();
  if (!leaf || compute(&plus_one, 41).get() != 42) return {0, Origin{}};
  // The compute worker is still on its way out when its result is in; ended
  // before it, this worker would orphan it.
  if (!eventually([] { return test::isolate_children().empty(); })) return {0, Origin{}};
  return {my_pid(), *leaf};
}

}  // namespace

TEST_CASE("workers of this program are forked from the zygote, as children of their spawner",
          "[integration][zygote]") {
  const Origin child = spawn_one();
  CHECK(child.forked == kZygoteServes);
  CHECK(child.parent == my_pid());
  if (!kZygoteServes) return;
  const int zygote = helper_named("isolated-zygote");
  REQUIRE(zygote > 0);
  CHECK(parent_of(zygote) == my_pid());
  check_nothing_orphaned();
}

TEST_CASE("a zygote SIGKILLed between two spawns is replaced and leaves nothing behind",
          "[integration][zygote]") {
  spawn_one();
  if (!kZygoteServes) return;
  const int zygote = kill_helper("isolated-zygote");

  // The spare outlived it and serves this spawn; the next comes from a new
  // zygote.
  CHECK(spawn_one().forked);
  CHECK(spawn_one().forked);
  CHECK(compute(&plus_one, 1).get() == 2);
  const int next_zygote = helper_named("isolated-zygote");
  CHECK(next_zygote > 0);
  CHECK(next_zygote != zygote);
  check_nothing_orphaned();
}

TEST_CASE("a spare SIGKILLed while it waits is replaced by the next spawn",
          "[integration][zygote]") {
  spawn_one();
  if (!kZygoteServes) return;
  kill_helper("isolated-spare");
  CHECK(spawn_one().forked);
  check_nothing_orphaned();
}

TEST_CASE("a stopped zygote takes its spare with it, and the next spawn starts another",
          "[integration][zygote]") {
  spawn_one();
  const std::vector<int> helpers = detail::zygote_helper_pids();
  REQUIRE(detail::stop_zygote(deadline_of(10s)));
  for (const int pid : helpers) CHECK_FALSE(exists(pid));
  CHECK(test::live_children().empty());
  CHECK(spawn_one().forked == kZygoteServes);
}

TEST_CASE("a worker forked from the zygote inherits no descriptor but stdin, stdout and stderr",
          "[integration][zygote]") {
  // Without close-on-exec: an exec'd child would have inherited it, had the
  // launcher not closed it.
  const int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked > 2);
  auto fds = compute(&descriptors_of_a_worker, 0);
  REQUIRE(test::ready(fds));
  CHECK(fds.get() == std::vector<int>{0, 1, 2});
  ::close(leaked);
}

TEST_CASE("a worker forked from the zygote runs in its spawner's current directory",
          "[integration][zygote]") {
  compute(&plus_one, 1).get();  // the zygote starts here, where the test starts
  const auto before = std::filesystem::current_path();
  const auto elsewhere = std::filesystem::temp_directory_path();
  std::filesystem::current_path(elsewhere);
  auto directory = compute(&working_directory, 0);
  const bool is_ready = test::ready(directory);
  std::filesystem::current_path(before);
  REQUIRE(is_ready);
  CHECK(std::filesystem::equivalent(directory.get(), elsewhere));
}

TEST_CASE("workers forked from one zygote draw their own random numbers",
          "[integration][zygote]") {
  std::set<std::uint64_t> numbers;
  for (int i = 0; i < 8; ++i) {
    auto number = compute(&a_fresh_port_number, 0);
    REQUIRE(test::ready(number));
    numbers.insert(number.get());
  }
  CHECK(numbers.size() == 8);
}

TEST_CASE("a worker forked from the zygote has a C library that knows its own thread",
          "[integration][zygote]") {
  auto seen = compute(&main_thread_as_seen_by_another, 0);
  REQUIRE(test::ready(seen));
  const auto [kill_result, clock_result] = seen.get();
  CHECK(kill_result == 0);
  CHECK(clock_result == 0);
}

TEST_CASE("spawns work from a process whose other threads are busy, and from those threads",
          "[integration][zygote]") {
  const BusyThreads busy(4);
  std::vector<std::future<std::vector<int>>> from_threads;
  for (int t = 0; t < 4; ++t) {
    from_threads.push_back(std::async(std::launch::async, [t] {
      std::vector<int> results;
      for (int i = 0; i < 10; ++i) results.push_back(compute(&plus_one, 100 * t + i).get());
      return results;
    }));
  }
  for (int i = 0; i < 10; ++i) CHECK(compute(&plus_one, i).get() == i + 1);
  for (int t = 0; t < 4; ++t) {
    REQUIRE(test::ready(from_threads[static_cast<std::size_t>(t)], 60s));
    std::vector<int> expected;
    for (int i = 0; i < 10; ++i) expected.push_back(100 * t + i + 1);
    CHECK(from_threads[static_cast<std::size_t>(t)].get() == expected);
  }
}

TEST_CASE("a worker with busy threads spawns from a zygote of its own",
          "[integration][zygote]") {
  auto outcome = compute(&spawn_from_a_busy_worker, 0);
  REQUIRE(test::ready(outcome, 30s));
  const auto [middle, leaf] = outcome.get();
  REQUIRE(middle > 0);
  CHECK(leaf.parent == middle);
  CHECK(leaf.forked == kZygoteServes);
}

TEST_CASE("an argument too large to travel inline reaches a forked worker",
          "[integration][zygote]") {
  std::vector<std::uint64_t> values(40000);  // 320 KB: over the 64 KiB inline limit
  std::iota(values.begin(), values.end(), std::uint64_t{1});
  auto sum = compute(&sum_of, values);
  REQUIRE(test::ready(sum));
  CHECK(sum.get() == std::uint64_t{40000} * 40001 / 2);
}

namespace {

// Every process below `pid`, children first seen first.
std::vector<int> descendants_of(int pid) {
  std::vector<int> all;
  std::vector<int> next = test::children_of(pid);
  while (!next.empty()) {
    const int child = next.back();
    next.pop_back();
    all.push_back(child);
    for (const int grandchild : test::children_of(child)) next.push_back(grandchild);
  }
  return all;
}

// Running: not gone, and not a zombie.
bool running(int pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  const auto close = stat.rfind(')');
  return close != std::string::npos && stat.size() > close + 2 && stat[close + 2] != 'Z';
}

}  // namespace

TEST_CASE("a root SIGKILLed takes its zygotes, their spares and every isolate with it within 1 s",
          "[integration][zygote]") {
  auto root = test::ChildProgram::start(ISOLATED_ZYGOTE_ROOT_PROGRAM, {});
  const int root_pid = root.pid();
  struct UnlinkSession {
    int root;
    ~UnlinkSession() { detail::unlink_session_segments(root); }  // SIGKILL leaves them
  } unlink_session{root_pid};
  const auto line = root.read_line(deadline_of(20s));
  REQUIRE(line);
  REQUIRE(*line == "ready");
  // The spares are asked for once each spawn's worker said hello: give them
  // a moment to exist, so that they are among the processes watched.
  const std::size_t expected = kZygoteServes ? 7 : 3;  // 3 isolates, 2 zygotes, 2 spares
  CHECK(eventually([&] { return descendants_of(root_pid).size() >= expected; }));
  const std::vector<int> tree = descendants_of(root_pid);
  INFO("the root's descendants: " << tree.size());

  REQUIRE(::kill(root_pid, SIGKILL) == 0);
  const auto killed = std::chrono::steady_clock::now();
  const bool all_dead = eventually(
      [&] { return std::none_of(tree.begin(), tree.end(), running); }, 1s);
  const auto took = std::chrono::steady_clock::now() - killed;
  INFO("they took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                    << " ms");
  CHECK(all_dead);
  // They were re-parented to this process (the suite is a subreaper).
  CHECK(test::reap_orphans({root_pid}, deadline_of(10s)));
  CHECK(root.wait(deadline_of(10s)));
}

TEST_CASE("a worker gets the stdin, stdout, stderr, core limit and process group it is given",
          "[integration][zygote]") {
  int in[2];
  int out[2];
  int err[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  REQUIRE(::write(in[1], "typed", 5) == 5);
  ::close(in[1]);
  std::promise<Surroundings> found;
  std::promise<void> ended;
  detail::ReplyPortSpawn spawn;
  spawn.entry = detail::make_entry_point(&write_where_told);
  spawn.encode_message = [](const SendPort& reply, std::vector<std::byte>& out) {
    detail::encode(reply, out);
  };
  spawn.launch.stdin_fd = in[0];
  spawn.launch.stdout_fd = out[1];
  spawn.launch.stderr_fd = err[1];
  spawn.launch.no_core_dump = true;
  spawn.launch.own_process_group = true;
  spawn.on_reply = [&](Message reply) { found.set_value(reply.as<Surroundings>()); };
  spawn.on_end = [&](const detail::ExitInfo&) { ended.set_value(); };
  const int pid = detail::spawn_with_reply_port(std::move(spawn));
  // Only the worker holds the write ends now.
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  auto surroundings = found.get_future();
  REQUIRE(test::ready(surroundings));
  auto end = ended.get_future();
  REQUIRE(test::ready(end));
  const Surroundings seen = surroundings.get();
  CHECK(seen.pid == pid);
  CHECK(seen.process_group == pid);
  CHECK(seen.core_limit == 0);
  CHECK(seen.input == "typed");
  CHECK(drain_pipe(out[0]) == "out of " + std::to_string(pid) + "\n");
  CHECK(drain_pipe(err[0]) == "err of " + std::to_string(pid) + "\n");
  ::close(out[0]);
  ::close(err[0]);
}
