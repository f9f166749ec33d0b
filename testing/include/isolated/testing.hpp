// Crash-isolation testing: run code that may segfault, abort, exit, throw or
// hang in an isolate of its own, and look at how it ended. run_isolated never
// throws for how the child ended: every ending is an Outcome, which a test
// asserts on (Catch2 matchers: <isolated/testing/catch2.hpp>).
//
//   const Outcome outcome = run_isolated(&parse, std::string("\x01"));
//   CHECK(outcome.signal() == SIGSEGV);  // or REQUIRE_THAT(outcome, KilledBy(SIGSEGV))
//
// A trial is an isolate like any other (spawned through the library, never a
// bare fork), so it works from a test process that runs threads, and trials
// may start from several threads at once. The child writes no core file, its
// stdout and stderr are captured, and a trial that outlives its timeout is
// killed with everything it started.
#pragma once

#include <isolated/compute.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace isolated::testing {

// How a trial ended.
enum class Ending {
  returned,   // the function returned (a void function too)
  threw,      // it threw; exception_type() and what() say what
  exited,     // the process exited (exit(), _exit()) before the function returned
  signaled,   // a signal ended it (a crash, abort(), a kill)
  timed_out,  // it ran past TrialOptions::timeout and was killed
};

struct TrialOptions {
  // How long the trial may run, from its spawn to its end; then it is killed
  // (SIGKILL) with every process of its process group.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  // Capture the child's stdout and stderr (one pipe, read by this process
  // while the child runs). Off: the child writes to this process's.
  bool capture_output = true;
};

// "SIGSEGV"; "signal 77" for a number without a name.
std::string signal_name(int signal);

namespace detail {

// Everything an Outcome holds; made by run_isolated.
struct OutcomeFields {
  Ending ending = Ending::returned;
  std::optional<int> exit_code;   // exited
  std::optional<int> signal;      // signaled, timed_out (the signal that ended it)
  std::string exception_type;     // threw: the demangled type name
  std::string what;               // threw
  std::string stack_trace;        // threw: where it was thrown
  std::string crash_report;       // signaled: signal, fault address, backtrace
  std::string output;             // stdout and stderr, when captured
  bool output_truncated = false;  // its beginning was dropped (too long)
  std::chrono::nanoseconds duration{0};
  std::chrono::milliseconds timeout{0};
  std::optional<Message> reply;  // returned: [0, result]
};

[[noreturn]] void throw_no_result(const std::string& outcome);

}  // namespace detail

// How one trial ended, and what it left: its result, its exception, its exit
// code or signal and crash report, and its output.
class Outcome {
 public:
  explicit Outcome(detail::OutcomeFields fields) : fields_(std::move(fields)) {}

  Ending ending() const noexcept { return fields_.ending; }
  // The process's exit code; only when it exited.
  std::optional<int> exit_code() const noexcept { return fields_.exit_code; }
  // The signal that ended it: when signaled, and when timed out (SIGKILL).
  std::optional<int> signal() const noexcept { return fields_.signal; }
  // When it threw: the exception's type name (demangled) and its what().
  const std::string& exception_type() const noexcept { return fields_.exception_type; }
  const std::string& what() const noexcept { return fields_.what; }
  // When signaled by a crash: the signal, the fault address and the
  // backtrace, named from the binary's symbols; "" for a kill from outside.
  const std::string& crash_report() const noexcept { return fields_.crash_report; }
  // What the child wrote to stdout and stderr, when captured (the last MiB).
  const std::string& output() const noexcept { return fields_.output; }
  // From the spawn to the end of the process.
  std::chrono::nanoseconds duration() const noexcept { return fields_.duration; }

  // When it returned: the value it returned (R = void for a void function).
  // Throws isolated::UsageError if it did not return.
  template <class R>
  R result() const {
    if (fields_.ending != Ending::returned || !fields_.reply) detail::throw_no_result(to_string());
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return std::get<1>(fields_.reply->as<std::tuple<int, std::remove_cvref_t<R>>>());
    }
  }

  // One readable block: how it ended, the code or signal, a sanitizer's
  // report line if the output has one, the exception and where it was
  // thrown, the crash report, and the last lines of output. The
  // backtraces stop where the library called the trial's function (the
  // accessors keep them whole).
  std::string to_string() const;

 private:
  detail::OutcomeFields fields_;
};

namespace detail {

// Runs `entry` (a compute trampoline and its function) in a new isolate
// started with `encode_message`'s message, and waits for its end. Throws
// IsolateSpawnError only if no worker could be started at all.
Outcome run_trial(const isolated::detail::EntryPoint& entry,
                  const isolated::detail::EncodeMessage& encode_message,
                  const TrialOptions& options);

template <class Arg>
Outcome start_trial(const isolated::detail::EntryPoint& entry, const Arg& argument,
                    const TrialOptions& options) {
  isolated::detail::TransferScope transfers;  // transferables in the argument go with it
  Outcome outcome = run_trial(entry, isolated::detail::compute_message(argument), options);
  transfers.commit();
  return outcome;
}

}  // namespace detail

// Runs f(arg) in an isolate of its own and waits until it has ended, however
// it ends. F is as for compute: a plain function or a capture-less lambda.
template <class F, class A>
Outcome run_isolated(F f, A&& arg, TrialOptions options = {}) {
  isolated::detail::check_stateless<F>();
  if constexpr (isolated::detail::is_stateless_callable<F>) {
    return detail::start_trial(isolated::detail::compute_entry<F, A>(f),
                               std::decay_t<A>(std::forward<A>(arg)), options);
  } else {
    return Outcome(detail::OutcomeFields{});
  }
}

// Runs f() in an isolate of its own.
template <class F>
Outcome run_isolated(F f, TrialOptions options = {}) {
  isolated::detail::check_stateless<F>();
  if constexpr (isolated::detail::is_stateless_callable<F>) {
    return detail::start_trial(isolated::detail::run_entry(f), nullptr, options);
  } else {
    return Outcome(detail::OutcomeFields{});
  }
}

}  // namespace isolated::testing
