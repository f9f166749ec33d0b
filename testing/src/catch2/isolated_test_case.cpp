// ISOLATED_TEST_CASE: a Catch2 test case whose invoker, in the test run,
// runs the body in a process of its own; in that process (the same program,
// which finds the test case by name), it runs the body.
#include "isolated_test_case.hpp"

#include "test_case_process.hpp"
#include "test_case_trials.hpp"

#include <isolated/testing/catch2.hpp>

#include <set>

namespace isolated::testing::catch2_detail {
namespace {

// Filled while static objects are constructed, read by main: no lock.
std::set<std::string>& isolated_names() {
  static auto* names = new std::set<std::string>();
  return *names;
}

class IsolatedBody : public Catch::ITestInvoker {
 public:
  IsolatedBody(void (*body)(), Catch::SourceLineInfo declared)
      : body_(body), in_own_process_(declared, "ISOLATED_TEST_CASE") {}

  void invoke() const override {
    if (in_test_case_process()) {
      body_();
    } else {
      in_own_process_.invoke();
    }
  }

 private:
  void (*body_)();
  InOwnProcess in_own_process_;
};

}  // namespace

bool is_isolated_test_case(const std::string& name) {
  return isolated_names().count(name) != 0;
}

void InOwnProcess::invoke() const {
  run_in_own_process(Catch::getResultCapture().getCurrentTestName(), declared_, macro_);
}

IsolatedTestCase::IsolatedTestCase(void (*body)(), const Catch::SourceLineInfo& line,
                                   const Catch::NameAndTags& name_and_tags) noexcept {
  // Catch's own registration (it keeps a failure to register for the run
  // to report, as for any TEST_CASE).
  const Catch::AutoReg registration(new IsolatedBody(body, line), line, Catch::StringRef(),
                                    name_and_tags);
  try {
    isolated_names().insert(std::string(name_and_tags.name));
  } catch (...) {
    Catch::getMutableRegistryHub().registerStartupException();
  }
}

}  // namespace isolated::testing::catch2_detail
