#include "event_reporter.hpp"

#include <isolated/send.hpp>

#include <tuple>

namespace isolated::testing::catch2_detail {
namespace {

// Passes are counted, not sent one by one; a crash loses at most this many.
constexpr std::uint64_t kPassesPerEvent = 1000;

SourcePlace place_of(const Catch::SourceLineInfo& line) {
  return {line.file ? line.file : "", line.line};
}

SectionPlace section_of(const Catch::SectionInfo& section) {
  return {section.name, place_of(section.lineInfo)};
}

AssertionEvent event_of(const Catch::AssertionStats& stats) {
  const Catch::AssertionResult& result = stats.assertionResult;
  AssertionEvent event;
  event.result_type = result.getResultType();
  event.macro = std::string(result.getTestMacroName());
  event.place = place_of(result.getSourceInfo());
  event.expression = std::string(result.m_info.capturedExpression);
  event.disposition = result.m_info.resultDisposition;
  event.decomposed = static_cast<bool>(result.m_resultData.lazyExpression);
  if (event.decomposed) {
    const bool negated = Catch::isFalseTest(result.m_info.resultDisposition);
    event.value = result.succeeded() != negated;
    event.expansion = result.getExpandedExpression();
    // Catch writes a negated expansion as "!" followed by the expression.
    if (negated && !event.expansion.empty() && event.expansion.front() == '!') {
      event.expansion.erase(0, 1);
    }
  }
  event.message = result.getMessage();
  for (const Catch::MessageInfo& info : stats.infoMessages) {
    event.infos.push_back(
        {std::string(info.macroName), place_of(info.lineInfo), info.type, info.message});
  }
  return event;
}

}  // namespace

EventReporter::EventReporter(SendPort events, bool report_passes)
    : events_(std::move(events)), report_passes_(report_passes) {}

Catch::ReporterPreferences EventReporter::getPreferences() const {
  Catch::ReporterPreferences preferences;
  // The output goes to the trial's pipe as it is written, so a crash keeps it.
  preferences.shouldRedirectStdOut = false;
  // Passes too: the run counts them.
  preferences.shouldReportAllAssertions = true;
  return preferences;
}

template <class Payload>
void EventReporter::send(EventKind kind, const Payload& payload) {
  // False only if the run is gone, and then nobody is left to tell.
  (void)events_.send(std::tuple<int, const Payload&>(static_cast<int>(kind), payload));
}

void EventReporter::send_passes() {
  if (passes_ == 0) return;
  send(EventKind::passes, passes_);
  passes_ = 0;
}

void EventReporter::sectionStarting(const Catch::SectionInfo& section) {
  if (depth_++ == 0) return;
  send_passes();
  send(EventKind::section_started, section_of(section));
}

bool EventReporter::assertionEnded(const Catch::AssertionStats& stats) {
  if (stats.assertionResult.getResultType() == Catch::ResultWas::Ok && !report_passes_) {
    if (++passes_ == kPassesPerEvent) send_passes();
    return true;
  }
  send_passes();
  send(EventKind::assertion, event_of(stats));
  return true;
}

void EventReporter::sectionEnded(const Catch::SectionStats& stats) {
  if (--depth_ == 0) return;
  send_passes();
  const Catch::Counts& counts = stats.assertions;
  send(EventKind::section_ended,
       SectionEnd{section_of(stats.sectionInfo), counts.passed, counts.failed, counts.failedButOk,
                  stats.durationInSeconds, stats.missingAssertions});
}

}  // namespace isolated::testing::catch2_detail
