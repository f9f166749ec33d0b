// Catch2 (v2) for crash-isolation testing:
//  - matchers on an Outcome: REQUIRE_THAT(run_isolated(&f, 1), KilledBy(SIGSEGV)),
//    ExitedWith(code), Threw(part of the type name), TimedOut(), Returned();
//  - an Outcome prints as Outcome::to_string(), so a failed check shows how
//    the trial ended: the crash report, the exception, the last output lines;
//  - ISOLATED_REQUIRE_CRASH / ISOLATED_CHECK_CRASH(f, arg, signal) and
//    ISOLATED_REQUIRE_EXIT / ISOLATED_CHECK_EXIT(f, arg, code): one line each;
//  - ISOLATED_TEST_CASE("name", "[tags]") { ... }: a test case whose body runs
//    in a process of its own; its assertions count as usual, and a crash,
//    exit or hang fails this test case alone. It needs the main of
//    isolated::catch2_main (which also runs any test case that way with
//    --isolate-each).
// The matchers and macros need only isolated::testing and Catch2's header.
#pragma once

#include <isolated/testing.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <utility>

namespace isolated::testing {

// A matcher of Outcomes: what it checks, and what it expected, in words.
class OutcomeMatcher : public Catch::MatcherBase<Outcome> {
 public:
  OutcomeMatcher(std::function<bool(const Outcome&)> test, std::string expected)
      : test_(std::move(test)), expected_(std::move(expected)) {}

  bool match(const Outcome& outcome) const override { return test_(outcome); }
  // Catch prints "<the outcome> <this>", and the outcome is a block of lines.
  std::string describe() const override { return "\nexpected: the trial " + expected_; }

 private:
  std::function<bool(const Outcome&)> test_;
  std::string expected_;
};

// Killed by `signal` (a crash, abort(), a kill); not a timeout's kill.
inline OutcomeMatcher KilledBy(int signal) {
  return {[signal](const Outcome& outcome) {
            return outcome.ending() == Ending::signaled && outcome.signal() == signal;
          },
          "was killed by " + signal_name(signal)};
}

// Exited with `code` before the function returned (exit(), _exit()).
inline OutcomeMatcher ExitedWith(int code) {
  return {[code](const Outcome& outcome) {
            return outcome.ending() == Ending::exited && outcome.exit_code() == code;
          },
          "exited with code " + std::to_string(code)};
}

// Threw an exception whose (demangled) type name contains `type_name_part`.
inline OutcomeMatcher Threw(std::string type_name_part) {
  std::string expected = "threw an exception whose type contains \"" + type_name_part + "\"";
  return {[part = std::move(type_name_part)](const Outcome& outcome) {
            return outcome.ending() == Ending::threw &&
                   outcome.exception_type().find(part) != std::string::npos;
          },
          std::move(expected)};
}

inline OutcomeMatcher TimedOut() {
  return {[](const Outcome& outcome) { return outcome.ending() == Ending::timed_out; },
          "timed out"};
}

inline OutcomeMatcher Returned() {
  return {[](const Outcome& outcome) { return outcome.ending() == Ending::returned; }, "returned"};
}

}  // namespace isolated::testing

namespace Catch {

template <>
struct StringMaker<isolated::testing::Outcome> {
  static std::string convert(const isolated::testing::Outcome& outcome) {
    return outcome.to_string();
  }
};

}  // namespace Catch

#define ISOLATED_REQUIRE_CRASH(f, arg, signal) \
  REQUIRE_THAT(::isolated::testing::run_isolated(f, arg), ::isolated::testing::KilledBy(signal))
#define ISOLATED_CHECK_CRASH(f, arg, signal) \
  CHECK_THAT(::isolated::testing::run_isolated(f, arg), ::isolated::testing::KilledBy(signal))
#define ISOLATED_REQUIRE_EXIT(f, arg, code) \
  REQUIRE_THAT(::isolated::testing::run_isolated(f, arg), ::isolated::testing::ExitedWith(code))
#define ISOLATED_CHECK_EXIT(f, arg, code) \
  CHECK_THAT(::isolated::testing::run_isolated(f, arg), ::isolated::testing::ExitedWith(code))

namespace isolated::testing::catch2_detail {

// Registers an ISOLATED_TEST_CASE with Catch: a test case that runs `body`
// in a process of its own (defined in isolated::catch2_main).
struct IsolatedTestCase {
  IsolatedTestCase(void (*body)(), const Catch::SourceLineInfo& line,
                   const Catch::NameAndTags& name_and_tags) noexcept;
};

}  // namespace isolated::testing::catch2_detail

#define ISOLATED_INTERNAL_TEST_CASE(body, ...)                                                 \
  static void body();                                                                          \
  namespace {                                                                                  \
  const ::isolated::testing::catch2_detail::IsolatedTestCase INTERNAL_CATCH_UNIQUE_NAME(       \
      isolated_test_case_)(&body, CATCH_INTERNAL_LINEINFO, ::Catch::NameAndTags{__VA_ARGS__}); \
  }                                                                                            \
  static void body()

#define ISOLATED_TEST_CASE(...) \
  ISOLATED_INTERNAL_TEST_CASE(INTERNAL_CATCH_UNIQUE_NAME(isolated_test_body_), __VA_ARGS__)
