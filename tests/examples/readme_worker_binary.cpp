// The README's worker binary example, built as a program of its own that
// links isolated::worker only; readme_examples_test.cpp runs it through the
// host example and checks that the README shows it word for word.
// example: worker binary
#include <isolated/worker.hpp>

#include <cctype>
#include <cstdio>

std::string shout(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text + "!";
}
ISOLATED_EXPORT("shout", shout);

// Started by hand rather than by a host, it only says what it is.
void started_by_hand(std::vector<std::string>, isolated::Message) {
  std::puts("a worker binary; it exports: shout");
}
ISOLATED_WORKER_MAIN(started_by_hand)
// end
