#include "run_plan.hpp"

#include "isolated_test_case.hpp"

#include <set>

namespace isolated::testing::catch2_detail {
namespace {

// What Catch's TestGroup chooses, in the order it runs them (it keeps them in
// a set of pointers into the sorted list, so in that list's order).
std::set<const Catch::TestCase*> chosen_test_cases(const Catch::Config& config) {
  const std::vector<Catch::TestCase>& all = Catch::getAllTestCasesSorted(config);
  const auto matches = config.testSpec().matchesByFilter(all, config);
  std::set<const Catch::TestCase*> chosen;
  if (matches.empty() && config.testSpec().getInvalidArgs().empty()) {
    for (const Catch::TestCase& test_case : all) {
      if (!test_case.isHidden()) chosen.insert(&test_case);
    }
  } else {
    for (const auto& match : matches) chosen.insert(match.tests.begin(), match.tests.end());
  }
  return chosen;
}

}  // namespace

std::vector<std::string> planned_in_own_process(const Catch::Config& config, bool isolate_each) {
  std::vector<std::string> planned;
  for (const Catch::TestCase* test_case : chosen_test_cases(config)) {
    const std::string& name = test_case->getTestCaseInfo().name;
    if (isolate_each || is_isolated_test_case(name)) planned.push_back(name);
  }
  return planned;
}

void isolate_every_test_case(const Catch::Config& config) {
  // Catch itself edits its sorted list in place this way (--filenames-as-tags);
  // the session runs what is in it.
  auto& all = const_cast<std::vector<Catch::TestCase>&>(Catch::getAllTestCasesSorted(config));
  for (Catch::TestCase& test_case : all) {
    Catch::TestCaseInfo info = test_case.getTestCaseInfo();
    const Catch::SourceLineInfo declared = info.lineInfo;
    test_case = Catch::TestCase(new InOwnProcess(declared, "TEST_CASE"), std::move(info));
  }
}

}  // namespace isolated::testing::catch2_detail
