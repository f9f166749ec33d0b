// The test run's side of a test case that ran in a process of its own: its
// events replayed into the run as if the body had run here. Assertions go
// through the run's result capture (so they count, and failures show with
// their expression, expansion, messages, file and line); sections go to the
// run's reporter (so they show, and the run's section tracking is left
// alone: the child already ran every path).
#pragma once

#include "test_case_events.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace isolated::testing::catch2_detail {

class EventReplay {
 public:
  EventReplay();
  // Ends the sections that are still open (the child ended inside them).
  ~EventReplay();
  EventReplay(const EventReplay&) = delete;
  EventReplay& operator=(const EventReplay&) = delete;

  // One event as the child sent it. Throws isolated::DecodeError or
  // MessageTypeError for a malformed one.
  void replay(const Message& event);

  // A failure of the test case itself, where the child's events ended (in
  // the sections still open): it crashed, exited or hung.
  void fail(const char* macro, const Catch::SourceLineInfo& where, const std::string& why);

 private:
  struct OpenSection {
    Catch::SectionInfo info;
    Catch::Counts counts;  // replayed within it so far
  };

  void assertion(const AssertionEvent& event);
  void count(bool passed, std::uint64_t times = 1);

  Catch::IResultCapture& capture_;
  Catch::IStreamingReporter& reporter_;
  std::vector<OpenSection> open_;
};

}  // namespace isolated::testing::catch2_detail
