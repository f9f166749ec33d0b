// What travels between a test run and a test case's own process: the
// request that starts it, and the events it sends back while it runs (its
// sections and its assertion results), each as [EventKind, payload].
#pragma once

#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace isolated::testing::catch2_detail {

// Run the test case `name` and send its events to `events`; the rest is the
// run's configuration, as far as it changes how a test case runs.
struct TestRequest {
  std::string name;
  SendPort events;
  bool report_passes = false;  // every passing assertion in full (-s), not just a count
  std::uint32_t rng_seed = 0;
  std::vector<std::string> sections_to_run;  // -c
  bool warn_missing_assertions = false;      // -w NoAssertions
  bool allow_throws = true;                  // not -e
  MSGPACK_DEFINE(name, events, report_passes, rng_seed, sections_to_run, warn_missing_assertions,
                 allow_throws)
};

enum class EventKind : int {
  section_started = 0,  // a SectionPlace
  section_ended = 1,    // a SectionEnd
  assertion = 2,        // an AssertionEvent
  passes = 3,           // a number of passing assertions, not sent one by one
};

struct SourcePlace {
  std::string file;
  std::uint64_t line = 0;
  MSGPACK_DEFINE(file, line)
};

struct SectionPlace {
  std::string name;
  SourcePlace place;
  MSGPACK_DEFINE(name, place)
};

struct SectionEnd {
  SectionPlace section;
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
  std::uint64_t failed_but_ok = 0;
  double seconds = 0;
  bool missing_assertions = false;
  MSGPACK_DEFINE(section, passed, failed, failed_but_ok, seconds, missing_assertions)
};

// INFO, CAPTURE, WARN: a message that goes with an assertion.
struct InfoMessage {
  std::string macro;
  SourcePlace place;
  int type = 0;  // Catch::ResultWas::OfType
  std::string text;
  MSGPACK_DEFINE(macro, place, type, text)
};

struct AssertionEvent {
  int result_type = 0;  // Catch::ResultWas::OfType
  std::string macro;    // "CHECK"
  SourcePlace place;
  std::string expression;  // as written: "x == 2"
  int disposition = 0;     // Catch::ResultDisposition::Flags
  // An expression Catch decomposed (CHECK(a == b), CHECK_THAT): its value
  // before negation (CHECK_FALSE) and its expansion without the negation's
  // "!", which the replay adds back the way Catch does.
  bool decomposed = false;
  bool value = false;
  std::string expansion;
  std::string message;  // FAIL's text, an unexpected exception's what()
  std::vector<InfoMessage> infos;
  MSGPACK_DEFINE(result_type, macro, place, expression, disposition, decomposed, value, expansion,
                 message, infos)
};

}  // namespace isolated::testing::catch2_detail
