#include "test_case_trials.hpp"

#include "catch2_internals.hpp"
#include "event_replay.hpp"
#include "test_case_process.hpp"

#include <isolated/receive_port.hpp>

#include <condition_variable>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

namespace isolated::testing::catch2_detail {
namespace {

// How a test case's process ended, and everything it reported before.
struct TestCaseTrial {
  Outcome outcome;
  std::vector<Message> events;
};

// What the test case's process needs to know of this run's configuration.
// Called on the run's thread, within a test case.
TestRequest request_for(const std::string& test_case) {
  const Catch::IConfigPtr config = Catch::getCurrentContext().getConfig();
  TestRequest request;
  request.name = test_case;
  if (config) {
    // The run reports passes with -s, and to a reporter that wants them all
    // (junit, to write a <testcase> for a test case without failures).
    request.report_passes = config->includeSuccessfulResults() ||
                            running_reporter().getPreferences().shouldReportAllAssertions;
    request.rng_seed = config->rngSeed();
    request.sections_to_run = config->getSectionsToRun();
    request.warn_missing_assertions = config->warnAboutMissingAssertions();
    request.allow_throws = config->allowThrows();
  }
  return request;
}

TestCaseTrial run_trial_of(TestRequest request, std::chrono::milliseconds timeout) {
  ReceivePort events;
  request.events = events.send_port();
  TrialOptions options;
  options.timeout = timeout;
  Outcome outcome = run_isolated(&run_test_case_here, request, options);
  // The supervisor took in the process's last messages before it reported
  // the end, so every event it sent is here now.
  std::vector<Message> received;
  while (auto event = events.receive_for(std::chrono::milliseconds(0))) {
    received.push_back(std::move(*event));
  }
  return {std::move(outcome), std::move(received)};
}

// The trials in flight, by test case name.
class Trials {
 public:
  static Trials& get() {
    static Trials trials;
    return trials;
  }

  void plan(const IsolationSettings& settings, std::vector<std::string> planned) {
    std::lock_guard lock(mutex_);
    settings_ = settings;
    planned_ = std::move(planned);
  }

  // The trial of `test_case`, once it ended; starts it (and, with jobs > 1,
  // the next planned ones) unless it was started ahead.
  TestCaseTrial take(const std::string& test_case) {
    std::unique_lock lock(mutex_);
    start_locked(test_case);
    auto& trial = started_.at(test_case);
    while (trial.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      start_ahead_locked(test_case);
      // Woken whenever a trial ends, to start the next planned one.
      ended_.wait_for(lock, std::chrono::seconds(1));
    }
    TestCaseTrial result = trial.get();
    started_.erase(test_case);
    return result;
  }

  void finish() {
    std::map<std::string, std::future<TestCaseTrial>> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(started_);
    }
    for (auto& [name, trial] : left) trial.wait();  // they take the lock as they end
  }

 private:
  void start_locked(const std::string& test_case) {
    if (started_.count(test_case) != 0) return;
    ++running_;
    started_.emplace(test_case,
                     std::async(std::launch::async, [this, request = request_for(test_case),
                                                     timeout = settings_.timeout] {
                       TestCaseTrial trial = run_trial_of(request, timeout);
                       std::lock_guard lock(mutex_);
                       --running_;
                       ended_.notify_all();
                       return trial;
                     }));
  }

  // Starts planned test cases after `current` until `jobs` trials run.
  void start_ahead_locked(const std::string& current) {
    bool after_current = false;
    for (const std::string& next : planned_) {
      if (running_ >= settings_.jobs) return;
      if (after_current && started_.count(next) == 0 && taken_ahead_.insert(next).second) {
        start_locked(next);
      }
      after_current = after_current || next == current;
    }
  }

  std::mutex mutex_;
  std::condition_variable ended_;
  IsolationSettings settings_;
  std::vector<std::string> planned_;
  std::map<std::string, std::future<TestCaseTrial>> started_;
  std::set<std::string> taken_ahead_;  // started ahead once: never again
  unsigned running_ = 0;
};

}  // namespace

void plan_test_case_trials(const IsolationSettings& settings, std::vector<std::string> planned) {
  Trials::get().plan(settings, std::move(planned));
}

void finish_test_case_trials() {
  Trials::get().finish();
}

void run_in_own_process(const std::string& test_case, const Catch::SourceLineInfo& declared,
                        const char* macro) {
  const TestCaseTrial trial = Trials::get().take(test_case);
  // Its output first: it came before whatever it led to.
  if (!trial.outcome.output().empty()) std::cout << trial.outcome.output() << std::flush;
  EventReplay replay;
  for (const Message& event : trial.events) replay.replay(event);
  if (trial.outcome.ending() != Ending::returned) {
    replay.fail(macro, declared,
                "this test case ran in a process of its own, which did not return:\n" +
                    trial.outcome.to_string());
  }
}

}  // namespace isolated::testing::catch2_detail
