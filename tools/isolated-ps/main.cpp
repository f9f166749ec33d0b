// isolated-ps: the live isolates of this user, read from their inbox
// doorbells in /dev/shm; with --gc, removes what sessions whose root has ended
// left there (DESIGN §11).
//
// It only reads shared memory (through descriptors, never mappings: see
// shm/segment_reader.hpp), and checks everything it reads, since a doorbell
// may have been written by a hostile worker.
#include "garbage_collection.hpp"
#include "isolate_survey.hpp"
#include "segment_scan.hpp"
#include "survey_table.hpp"

#include <isolated/error.hpp>

#include <cstdio>
#include <exception>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: isolated-ps [--gc]\n"
    "\n"
    "Lists the live isolates of this user: pid, parent, root, inbox state, registered\n"
    "lanes, and the messages and bytes queued in those lanes, children under parents.\n"
    "\n"
    "  --gc    remove the shared-memory segments (any kind) of sessions whose root\n"
    "          process has ended, and print each name removed\n"
    "  --help  this text\n";

int list_isolates() {
  const auto survey = isolated::ps::survey_isolates(isolated::ps::scan_own_segments());
  std::fputs(isolated::ps::format_survey(survey).c_str(), stdout);
  return 0;
}

int collect_garbage() {
  const auto removed =
      isolated::ps::remove_segments_of_ended_roots(isolated::ps::scan_own_segments());
  for (const auto& name : removed) std::printf("removed %s\n", name.c_str());
  std::printf("%zu segment(s) removed\n", removed.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool gc = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--gc") {
      gc = true;
    } else if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "isolated-ps: unknown argument '%s'\n\n%s", argv[i], kUsage);
      return 2;
    }
  }
  try {
    return gc ? collect_garbage() : list_isolates();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated-ps: %s\n", e.what());
    return 1;
  }
}
