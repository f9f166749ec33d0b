// The crash report (DESIGN §3.1, §6): a forked child installs the handler and
// dies of a real fault; the parent checks that the child still died of that
// signal and that the rendered report names the signal and the function.
//
// Sanitizer builds: the handler replaces ASan's SEGV/BUS/FPE handlers (ASan's
// default allow_user_segv_handler=1 lets it), so no ASAN_OPTIONS are needed.
// The crashing functions are exempt from ASan and UBSan instrumentation:
// otherwise UBSan would report the null store and the division by zero
// itself and exit, and the real fault would never happen.
#include <catch2/catch.hpp>

#include "common/src/shm/segment.hpp"
#include "support/forked_process.hpp"
#include "worker/src/crash_handler.hpp"
#include "worker/src/crash_report.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>

using namespace isolated::detail;
using isolated::test::ForkedProcess;

// Outside any namespace, so the names in the report are exactly these.
[[gnu::noinline]] __attribute__((no_sanitize("address", "undefined"))) void crash_by_null_write() {
  // Both volatile: else GCC's points-to analysis sees a store to nothing and drops it.
  volatile int* volatile target = nullptr;
  *target = 42;
}

[[gnu::noinline]] void crash_by_abort() {
  std::abort();
}

[[gnu::noinline]] __attribute__((no_sanitize("undefined"))) int crash_by_division() {
  volatile int numerator = 1;
  volatile int denominator = 0;
  return numerator / denominator;
}

volatile bool g_keep_recursing = true;  // hides the unbounded recursion from the compiler

[[gnu::noinline]] int recurse_until_the_stack_ends(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (!g_keep_recursing) return frame[0];
  return recurse_until_the_stack_ends(depth + 1) + frame[0];  // not a tail call
}

namespace {

constexpr auto kTimeout = std::chrono::seconds(5);

struct Crash {
  int status;
  std::string report;
};

// Forks a child that installs the handler on a shared area and runs `crash`.
template <class F>
Crash crash_child(F crash) {
  Segment segment = Segment::create(SegmentKind::out_of_line, sizeof(CrashReportArea));
  auto* area = new (segment.data()) CrashReportArea{};
  auto child = ForkedProcess::start([&] {
    install_crash_handler(*area);
    crash();
    return 0;
  });
  const auto status = child.wait_for(kTimeout);
  REQUIRE(status);
  return {*status, render_crash_report(*area)};
}

void* overflow_the_stack(void*) {
  install_crash_signal_stack();
  recurse_until_the_stack_ends(0);
  return nullptr;
}

// A thread with a small stack, so the overflow comes fast whatever ulimit -s says.
void overflow_a_thread_stack() {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 512 * 1024);
  pthread_t thread;
  if (pthread_create(&thread, &attributes, overflow_the_stack, nullptr) == 0)
    pthread_join(thread, nullptr);
}

bool died_of(int status, int signal) {
  return WIFSIGNALED(status) && WTERMSIG(status) == signal;
}

}  // namespace

TEST_CASE("a null-pointer write is reported as SIGSEGV at 0x0 in the function",
          "[integration][crash]") {
  const Crash crash = crash_child([] { crash_by_null_write(); });
  INFO(crash.report);
  CHECK(died_of(crash.status, SIGSEGV));
  CHECK(crash.report.rfind("SIGSEGV (Segmentation fault: address not mapped) at address 0x0\n",
                           0) == 0);
  CHECK(crash.report.find("#0 crash_by_null_write()+0x") != std::string::npos);
}

TEST_CASE("abort() is reported as SIGABRT raised by the process, through crash_by_abort",
          "[integration][crash]") {
  const Crash crash = crash_child([] { crash_by_abort(); });
  INFO(crash.report);
  CHECK(died_of(crash.status, SIGABRT));
  CHECK(crash.report.rfind("SIGABRT (Aborted), raised by the process itself\n", 0) == 0);
  CHECK(crash.report.find(" crash_by_abort()+0x") != std::string::npos);
  CHECK(crash.report.find(" abort+0x") != std::string::npos);  // libc's .dynsym names it
}

TEST_CASE("a stack overflow is reported from the alternate signal stack", "[integration][crash]") {
  const Crash crash = crash_child([] { overflow_a_thread_stack(); });
  INFO(crash.report);
  CHECK(died_of(crash.status, SIGSEGV));
  CHECK(crash.report.rfind("SIGSEGV (Segmentation fault", 0) == 0);
  CHECK(crash.report.find("#0 recurse_until_the_stack_ends(int)+0x") != std::string::npos);
  CHECK(crash.report.find("#63 recurse_until_the_stack_ends(int)+0x") != std::string::npos);
}

TEST_CASE("an integer division by zero is reported as SIGFPE", "[integration][crash]") {
  const Crash crash = crash_child([] { crash_by_division(); });
  INFO(crash.report);
  CHECK(died_of(crash.status, SIGFPE));
  CHECK(crash.report.rfind(
            "SIGFPE (Floating point exception: integer divide by zero) at address 0x", 0) == 0);
  CHECK(crash.report.find("#0 crash_by_division()+0x") != std::string::npos);
}

TEST_CASE("a handler that faults while writing still ends the process by the first signal",
          "[integration][crash]") {
  Segment segment = Segment::create(SegmentKind::out_of_line, sizeof(CrashReportArea));
  auto* area = new (segment.data()) CrashReportArea{};
  auto child = ForkedProcess::start([&] {
    install_crash_handler(*area);
    // "Being written" and read-only: the handler faults on its first write,
    // and once more while publishing what it has. Neither may loop.
    area->state.store(1);
    ::mprotect(segment.data(), segment.size(), PROT_READ);
    crash_by_abort();
    return 0;
  });
  const auto status = child.wait_for(kTimeout);
  REQUIRE(status);
#ifdef __SANITIZE_THREAD__
  // TSan runs every handler with all signals blocked, so the kernel ends the
  // process by the nested SIGSEGV at once: no loop, but not the first signal.
  CHECK((died_of(*status, SIGABRT) || died_of(*status, SIGSEGV)));
#else
  CHECK(died_of(*status, SIGABRT));
#endif
  CHECK(render_crash_report(*area).empty());
}

TEST_CASE("an empty crash area renders as nothing", "[integration][crash]") {
  CrashReportArea area{};
  CHECK(render_crash_report(area).empty());
  area.state.store(1);  // being written when the process died: no report
  CHECK(render_crash_report(area).empty());
}

TEST_CASE("rendering an area of random or mutated bytes never crashes", "[integration][crash]") {
  const std::uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  auto byte = [&] { return static_cast<char>(random() & 0xff); };
  auto below = [&](std::size_t bound) { return static_cast<std::size_t>(random() % bound); };

  auto area = std::make_unique<CrashReportArea>();
  for (int i = 0; i < 500; ++i) {
    area->signal = static_cast<std::int32_t>(random());
    area->fault_address = random();
    area->text_length = static_cast<std::uint32_t>(below(2 * kCrashTextBytes));
    for (char& c : area->text) c = byte();
    area->state.store(2);
    (void)render_crash_report(*area);
  }

  // Mutations of a real report reach past the first checks.
  Segment segment = Segment::create(SegmentKind::out_of_line, sizeof(CrashReportArea));
  auto* real = new (segment.data()) CrashReportArea{};
  auto child = ForkedProcess::start([&] {
    install_crash_handler(*real);
    crash_by_abort();
    return 0;
  });
  REQUIRE(child.wait_for(kTimeout));
  REQUIRE(real->state.load() == 2);
  const std::size_t length = real->text_length;
  REQUIRE(length > 0);
  for (int i = 0; i < 150; ++i) {
    std::memcpy(area->text, real->text, sizeof area->text);
    area->signal = real->signal;
    area->fault_address = real->fault_address;
    area->text_length = random() % 8 == 0 ? static_cast<std::uint32_t>(below(length + 1))
                                          : static_cast<std::uint32_t>(length);
    for (std::size_t flips = 1 + below(8); flips > 0; --flips) area->text[below(length)] = byte();
    (void)render_crash_report(*area);
  }
}
