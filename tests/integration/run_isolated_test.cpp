// run_isolated (isolated::testing): every way a trial can end comes back as
// an Outcome that keeps them apart (a return, a throw, an exit code, a
// signal with its crash report, a timeout), with the child's output; and the
// Catch2 matchers, printing and one-line checks of <isolated/testing/catch2.hpp>.
//
// The crashing functions live outside any namespace, so the crash report
// names them exactly, and are exempt from ASan and UBSan instrumentation, so
// that the real signal happens (as in crash_report_test.cpp).
#include <isolated/testing/catch2.hpp>

#include "support/deadlines.hpp"
#include "support/forked_process.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace isolated::testing;
using isolated::test::deadline_of;
using namespace std::chrono_literals;

[[gnu::noinline, gnu::no_sanitize("address", "undefined")]] int trial_null_write(int) {
  // Both volatile: else GCC's points-to analysis sees a store to nothing and drops it.
  volatile int* volatile target = nullptr;
  *target = 42;
  return 0;
}

[[gnu::noinline]] void trial_abort() {
  std::abort();
}

namespace {

struct ParseFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int square(int x) {
  return x * x;
}
void do_nothing() {}
int throw_parse_failure(int line) {
  throw ParseFailure("bad line " + std::to_string(line));
}
[[noreturn]] void exit_with(int code) {
  std::exit(code);
}

[[noreturn]] void hang() {
  for (;;) ::pause();
}

// Starts a bare fork (no isolate, no death signal) that sleeps forever,
// tells its pid, and hangs: only the trial's process-group kill ends it.
[[noreturn]] void hang_with_a_grandchild() {
  const pid_t grandchild = ::fork();
  if (grandchild == 0) hang();
  std::printf("grandchild %d\n", static_cast<int>(grandchild));
  std::fflush(stdout);
  hang();
}

void write_to_both_streams() {
  std::printf("to stdout\n");
  std::fflush(stdout);
  std::fprintf(stderr, "to stderr\n");
}

// More than the pipe holds and more than the output limit: the trial must
// neither block nor keep it all.
void write_two_mebibytes() {
  const std::string line(1023, 'x');
  for (int i = 0; i < 2048; ++i) std::printf("%s\n", line.c_str());
  std::printf("the last line\n");
}

std::tuple<long, long> core_file_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_CORE, &limit);
  return {static_cast<long>(limit.rlim_cur), static_cast<long>(limit.rlim_max)};
}

TrialOptions with_timeout(std::chrono::milliseconds timeout) {
  TrialOptions options;
  options.timeout = deadline_of(timeout);
  return options;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a trial that returns gives its result", "[integration][testing]") {
  const Outcome outcome = run_isolated(&square, 7, with_timeout(10s));
  INFO(outcome.to_string());
  REQUIRE(outcome.ending() == Ending::returned);
  CHECK(outcome.result<int>() == 49);
  CHECK_FALSE(outcome.exit_code());
  CHECK_FALSE(outcome.signal());
  CHECK(outcome.duration() > 0ns);
  CHECK_THAT(outcome, Returned());

  const Outcome nothing = run_isolated(&do_nothing, with_timeout(10s));
  CHECK(nothing.ending() == Ending::returned);
  CHECK_NOTHROW(nothing.result<void>());
  CHECK(run_isolated([](std::string s) { return s + "!"; }, std::string("hi"))
            .result<std::string>() == "hi!");
}

TEST_CASE("a trial that throws gives the exception's type and what()", "[integration][testing]") {
  const Outcome outcome = run_isolated(&throw_parse_failure, 3, with_timeout(10s));
  INFO(outcome.to_string());
  REQUIRE(outcome.ending() == Ending::threw);
  CHECK(contains(outcome.exception_type(), "ParseFailure"));
  CHECK(outcome.what() == "bad line 3");
  CHECK_THAT(outcome, Threw("ParseFailure"));
  CHECK_THAT(outcome, !Threw("std::logic_error"));
  CHECK_THROWS_AS(outcome.result<int>(), isolated::UsageError);
  CHECK(contains(outcome.to_string(), "throw_parse_failure"));  // where it was thrown
}

TEST_CASE("an exit code and a signal are kept apart: exit(6) is not SIGABRT",
          "[integration][testing]") {
  const Outcome exited = run_isolated(&exit_with, 6, with_timeout(10s));
  INFO(exited.to_string());
  REQUIRE(exited.ending() == Ending::exited);
  CHECK(exited.exit_code() == 6);
  CHECK_FALSE(exited.signal());
  CHECK_THAT(exited, ExitedWith(6));
  CHECK_THAT(exited, !KilledBy(SIGABRT));
  CHECK(contains(exited.to_string(), "exited with code 6"));

  const Outcome aborted = run_isolated(&trial_abort, with_timeout(10s));
  INFO(aborted.to_string());
  REQUIRE(aborted.ending() == Ending::signaled);
  CHECK(aborted.signal() == SIGABRT);
  CHECK_FALSE(aborted.exit_code());
  CHECK_THAT(aborted, KilledBy(SIGABRT));
  CHECK_THAT(aborted, !ExitedWith(6));
  CHECK(contains(aborted.crash_report(), "trial_abort()"));
}

TEST_CASE("a trial that segfaults gives the signal and a crash report named from symbols",
          "[integration][testing]") {
  const Outcome outcome = run_isolated(&trial_null_write, 0, with_timeout(10s));
  INFO(outcome.to_string());
  REQUIRE(outcome.ending() == Ending::signaled);
  CHECK(outcome.signal() == SIGSEGV);
  CHECK(outcome.crash_report().rfind(
            "SIGSEGV (Segmentation fault: address not mapped) at address 0x0", 0) == 0);
  CHECK(contains(outcome.crash_report(), "#0 trial_null_write(int)+0x"));
  CHECK_THROWS_AS(outcome.result<int>(), isolated::UsageError);
  // Printed, it says all of that in one block.
  const std::string text = Catch::Detail::stringify(outcome);
  CHECK(contains(text, "was killed by SIGSEGV (Segmentation fault)"));
  CHECK(contains(text, "trial_null_write(int)"));
}

TEST_CASE("the one-line checks pass on the ending they name", "[integration][testing]") {
  ISOLATED_REQUIRE_CRASH(&trial_null_write, 0, SIGSEGV);
  ISOLATED_CHECK_CRASH(&trial_null_write, 0, SIGSEGV);
  ISOLATED_REQUIRE_EXIT(&exit_with, 3, 3);
  ISOLATED_CHECK_EXIT(&exit_with, 0, 0);
}

TEST_CASE("a matcher describes what it expected", "[integration][testing]") {
  CHECK(KilledBy(SIGSEGV).describe() == "\nexpected: the trial was killed by SIGSEGV");
  CHECK(ExitedWith(3).describe() == "\nexpected: the trial exited with code 3");
  CHECK(TimedOut().describe() == "\nexpected: the trial timed out");
  const Outcome returned = run_isolated(&square, 2, with_timeout(10s));
  CHECK_FALSE(KilledBy(SIGSEGV).match(returned));
  CHECK_FALSE(ExitedWith(0).match(returned));  // it returned: no exit code to match
  CHECK_FALSE(TimedOut().match(returned));
  CHECK_FALSE(Threw("").match(returned));
}

TEST_CASE("a trial past its timeout is killed with everything it started",
          "[integration][testing]") {
  // Long enough for it to start and fork even in a slow (sanitizer) build on
  // a loaded machine (with 1 s it sometimes had not printed its grandchild).
  const TrialOptions options = with_timeout(3s);
  const Outcome outcome = run_isolated(&hang_with_a_grandchild, options);
  INFO(outcome.to_string());
  REQUIRE(outcome.ending() == Ending::timed_out);
  CHECK(outcome.signal() == SIGKILL);
  CHECK(outcome.duration() >= options.timeout);
  CHECK_THAT(outcome, TimedOut());
  CHECK_THAT(outcome, !KilledBy(SIGKILL));  // a timeout is not a kill from outside
  CHECK(contains(outcome.to_string(),
                 "timed out after " + std::to_string(options.timeout.count()) + " ms"));

  // The bare fork it made was killed too. Orphaned, it became this process's
  // child (the suite's main is a subreaper), so it is reaped here.
  int grandchild = 0;
  REQUIRE(std::sscanf(outcome.output().c_str(), "grandchild %d", &grandchild) == 1);
  const auto status = isolated::test::reap_child(grandchild, deadline_of(10s));
  REQUIRE(status);
  CHECK((WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL));
}

TEST_CASE("a trial's stdout and stderr are captured, also more than a pipe holds",
          "[integration][testing]") {
  const Outcome both = run_isolated(&write_to_both_streams, with_timeout(10s));
  REQUIRE(both.ending() == Ending::returned);
  CHECK(both.output() == "to stdout\nto stderr\n");
  CHECK(contains(both.to_string(), "  | to stderr"));

  const Outcome flood = run_isolated(&write_two_mebibytes, with_timeout(10s));
  REQUIRE(flood.ending() == Ending::returned);
  CHECK(flood.output().size() == std::size_t{1} << 20);  // the last MiB
  CHECK(flood.output().ends_with("the last line\n"));
  CHECK(contains(flood.to_string(), "output (the last 20 lines)"));

  TrialOptions uncaptured = with_timeout(10s);
  uncaptured.capture_output = false;
  CHECK(run_isolated(&do_nothing, uncaptured).output().empty());
}

TEST_CASE("a trial writes no core file: RLIMIT_CORE is 0 in the child", "[integration][testing]") {
  const Outcome outcome = run_isolated(&core_file_limit, with_timeout(10s));
  REQUIRE(outcome.ending() == Ending::returned);
  CHECK(outcome.result<std::tuple<long, long>>() == std::tuple<long, long>(0, 0));
}

TEST_CASE("trials start from several threads at once, beside a busy thread",
          "[integration][testing]") {
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop.load()) {
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        const int which = (t + i) % 3;
        const Outcome outcome = which == 0   ? run_isolated(&square, t, with_timeout(20s))
                                : which == 1 ? run_isolated(&trial_null_write, t, with_timeout(20s))
                                             : run_isolated(&exit_with, t + 10, with_timeout(20s));
        const bool as_expected =
            which == 0   ? outcome.ending() == Ending::returned && outcome.result<int>() == t * t
            : which == 1 ? outcome.ending() == Ending::signaled && outcome.signal() == SIGSEGV
                         : outcome.ending() == Ending::exited && outcome.exit_code() == t + 10;
        if (as_expected) ++right;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  stop = true;
  busy.join();
  CHECK(right == 12);
}

#if defined(__SANITIZE_ADDRESS__)
[[gnu::noinline]] int overflow_the_heap(int index) {
  volatile char* bytes = new char[8];
  const int value = bytes[index];  // ASan reports this read and aborts
  delete[] bytes;
  return value;
}

TEST_CASE("under ASan a trial ends by ASan's report, which its output keeps",
          "[integration][testing][asan]") {
  const Outcome outcome = run_isolated(&overflow_the_heap, 8, with_timeout(10s));
  INFO(outcome.to_string());
  // abort_on_error=1 (the asan test preset) ends it by SIGABRT, else ASan exits with 1.
  CHECK((outcome.ending() == Ending::signaled || outcome.ending() == Ending::exited));
  CHECK(contains(outcome.output(), "AddressSanitizer: heap-buffer-overflow"));
  CHECK(contains(outcome.to_string(), "a sanitizer reported (its report is in the output):\n  =="));
  CHECK(contains(outcome.output(), "overflow_the_heap"));
}
#endif
