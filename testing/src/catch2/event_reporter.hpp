// The reporter of a test case's own process: sends its sections and
// assertion results to the test run (test_case_events.hpp), which replays
// them. It prints nothing itself.
#pragma once

#include "test_case_events.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

namespace isolated::testing::catch2_detail {

class EventReporter : public Catch::IStreamingReporter {
 public:
  // `report_passes`: every passing assertion in full (the run shows them,
  // -s); otherwise only how many passed.
  EventReporter(SendPort events, bool report_passes);

  Catch::ReporterPreferences getPreferences() const override;

  void noMatchingTestCases(const std::string&) override {}
  void testRunStarting(const Catch::TestRunInfo&) override {}
  void testGroupStarting(const Catch::GroupInfo&) override {}
  void testCaseStarting(const Catch::TestCaseInfo&) override {}
  void sectionStarting(const Catch::SectionInfo& section) override;
  void assertionStarting(const Catch::AssertionInfo&) override {}
  bool assertionEnded(const Catch::AssertionStats& stats) override;
  void sectionEnded(const Catch::SectionStats& stats) override;
  void testCaseEnded(const Catch::TestCaseStats&) override { send_passes(); }
  void testGroupEnded(const Catch::TestGroupStats&) override { send_passes(); }
  void testRunEnded(const Catch::TestRunStats&) override { send_passes(); }
  void skipTest(const Catch::TestCaseInfo&) override {}

 private:
  template <class Payload>
  void send(EventKind kind, const Payload& payload);
  void send_passes();

  SendPort events_;
  bool report_passes_;
  // Sections open now; the outermost is the test case's own, which the run
  // that replays has too.
  int depth_ = 0;
  std::uint64_t passes_ = 0;  // not sent yet
};

}  // namespace isolated::testing::catch2_detail
