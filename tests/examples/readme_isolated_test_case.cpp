// The README's ISOLATED_TEST_CASE example, a test program of its own on
// isolated::catch2_main, run by readme_examples_test.cpp, which also checks
// that the README shows it word for word.

// example: isolated test case
#include <isolated/testing/catch2.hpp>

#include <stdexcept>
#include <vector>

// Code under test: the payload of a record, [length, bytes...].
std::vector<char> payload_of(const std::vector<char>& record) {
  if (record.empty() || static_cast<std::size_t>(record[0]) >= record.size()) {
    throw std::out_of_range("the record is shorter than its length says");
  }
  return {record.begin() + 1, record.begin() + 1 + record[0]};
}

// Runs in a process of its own: should payload_of read past the record and
// crash, this test case fails with the crash report, and the run goes on.
ISOLATED_TEST_CASE("a record whose length lies is refused", "[records]") {
  CHECK_THROWS_AS(payload_of({100, 'a', 'b'}), std::out_of_range);
  CHECK(payload_of({2, 'o', 'k'}) == std::vector<char>{'o', 'k'});
}
// end
