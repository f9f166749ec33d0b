#include "event_replay.hpp"

#include "catch2_internals.hpp"

#include <isolated/error.hpp>

#include <tuple>
#include <unordered_set>

namespace isolated::testing::catch2_detail {
namespace {

// Catch's assertion and message records point at their file, macro and
// expression text (StringRef, const char*) and the junit reporter keeps them
// to the end of the run, so the replayed texts live as long as the process.
// Only the run's thread replays.
const std::string& lasting(const std::string& text) {
  static auto* texts = new std::unordered_set<std::string>();
  return *texts->insert(text).first;
}

Catch::SourceLineInfo line_of(const SourcePlace& place) {
  return Catch::SourceLineInfo(lasting(place.file).c_str(), static_cast<std::size_t>(place.line));
}

Catch::SectionInfo section_info(const SectionPlace& section) {
  return Catch::SectionInfo(line_of(section.place), section.name);
}

// The child's decomposed expression, as Catch's own would stream it.
class ReplayedExpression : public Catch::ITransientExpression {
 public:
  ReplayedExpression(const std::string& expansion, bool value)
      : ITransientExpression(false, value), expansion_(expansion) {}
  void streamReconstructedExpression(std::ostream& os) const override { os << expansion_; }

 private:
  const std::string& expansion_;
};

}  // namespace

EventReplay::EventReplay() : capture_(Catch::getResultCapture()), reporter_(running_reporter()) {}

EventReplay::~EventReplay() {
  while (!open_.empty()) {
    reporter_.sectionEnded(Catch::SectionStats(open_.back().info, open_.back().counts, 0, false));
    open_.pop_back();
  }
}

void EventReplay::replay(const Message& event) {
  const auto [kind, payload] = event.as<std::tuple<int, Message>>();
  switch (static_cast<EventKind>(kind)) {
    case EventKind::section_started: {
      open_.push_back({section_info(payload.as<SectionPlace>()), {}});
      reporter_.sectionStarting(open_.back().info);
      return;
    }
    case EventKind::section_ended: {
      const auto end = payload.as<SectionEnd>();
      if (open_.empty())
        throw DecodeError("a test case's process ended a section it never started");
      Catch::Counts counts;
      counts.passed = end.passed;
      counts.failed = end.failed;
      counts.failedButOk = end.failed_but_ok;
      reporter_.sectionEnded(
          Catch::SectionStats(open_.back().info, counts, end.seconds, end.missing_assertions));
      open_.pop_back();
      return;
    }
    case EventKind::assertion:
      assertion(payload.as<AssertionEvent>());
      return;
    case EventKind::passes: {
      const auto passes = payload.as<std::uint64_t>();
      for (std::uint64_t i = 0; i < passes; ++i) capture_.assertionPassed();
      count(true, passes);
      return;
    }
  }
  throw DecodeError("a test case's process sent an event of unknown kind " + std::to_string(kind));
}

void EventReplay::assertion(const AssertionEvent& event) {
  std::vector<Catch::MessageInfo> infos;
  for (const InfoMessage& message : event.infos) {
    Catch::MessageInfo info(lasting(message.macro), line_of(message.place),
                            static_cast<Catch::ResultWas::OfType>(message.type));
    info.message = message.text;
    capture_.pushScopedMessage(info);
    infos.push_back(std::move(info));
  }
  const Catch::AssertionInfo info{lasting(event.macro), line_of(event.place),
                                  lasting(event.expression),
                                  static_cast<Catch::ResultDisposition::Flags>(event.disposition)};
  const auto type = static_cast<Catch::ResultWas::OfType>(event.result_type);
  // A failed REQUIRE ended the child's run of the body already; what Catch
  // would do next (throw out of the body) is not ours to do here.
  Catch::AssertionReaction ignored;
  if (event.decomposed) {
    capture_.handleExpr(info, ReplayedExpression(event.expansion, event.value), ignored);
  } else {
    capture_.handleMessage(info, type, event.message, ignored);
  }
  for (auto it = infos.rbegin(); it != infos.rend(); ++it) capture_.popScopedMessage(*it);
  if (type == Catch::ResultWas::Ok) count(true);
  if ((type & Catch::ResultWas::FailureBit) != 0) count(false);
}

void EventReplay::fail(const char* macro, const Catch::SourceLineInfo& where,
                       const std::string& why) {
  const Catch::AssertionInfo info{Catch::StringRef(macro), where, Catch::StringRef(),
                                  Catch::ResultDisposition::Normal};
  Catch::AssertionReaction ignored;
  capture_.handleMessage(info, Catch::ResultWas::FatalErrorCondition, why, ignored);
  count(false);
}

void EventReplay::count(bool passed, std::uint64_t times) {
  for (OpenSection& section : open_)
    (passed ? section.counts.passed : section.counts.failed) += times;
}

}  // namespace isolated::testing::catch2_detail
