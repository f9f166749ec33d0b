// The article's scenario, made tangible: a UI-like 60 Hz frame loop on the
// main isolate, and a costly JSON decode done (a) on the main thread, (b) in
// another isolate through compute(), (c) in an isolate whose decoder
// segfaults mid-task: the frame loop keeps going and the host learns exactly
// what happened. Then the article's second scenario (image_scenario.hpp): a
// directory of images downscaled through a pool of isolates with map.
//
// Usage: isolated-demo [persons (200000)] [images (48)]
#include "frame_loop.hpp"
#include "image_scenario.hpp"
#include "persons.hpp"

#include <isolated/isolated.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <optional>
#include <string>

namespace {

using demo::FrameStats;
using demo::Person;

void print_row(const char* scenario, const FrameStats& s, const std::string& result) {
  std::printf("%-34s %7d %7d %8d %9.1f ms %9.1f ms  %s\n", scenario, s.frames, s.janky, s.dropped,
              s.worst_ms, s.result_ms, result.c_str());
}

// Polls a future once per frame: done when it is ready.
template <class R>
bool ready(std::future<R>& future) {
  return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace

int main(int argc, char** argv) {
  isolated::init(argc, argv);  // a worker runs its isolate here and never returns

  const std::size_t count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200000;
  const std::string json = demo::make_persons_json(count);
  std::printf("isolated demo: a 60 Hz frame loop while %zu persons (%.1f MB of JSON) are decoded\n\n",
              count, static_cast<double>(json.size()) / 1e6);
  std::printf("%-34s %7s %7s %8s %12s %12s  %s\n", "scenario", "frames", "janky", "dropped",
              "worst frame", "to result", "result");

  // (a) On the main thread: the decode blocks the frame loop.
  std::optional<std::vector<Person>> persons;
  const FrameStats main_thread = demo::run_frames([&] {
    persons = demo::decode_persons(json);
    return true;
  });
  print_row("(a) decode on the main thread", main_thread,
            std::to_string(persons->size()) + " persons");

  // (b) Through compute(): the frame loop keeps its 60 Hz.
  auto decoded = isolated::compute(&demo::decode_persons, json);
  const FrameStats in_isolate = demo::run_frames([&] { return ready(decoded); });
  print_row("(b) decode with compute()", in_isolate,
            std::to_string(decoded.get().size()) + " persons");

  // (c) A decoder that segfaults mid-task: the host survives and is told why.
  auto crashing = isolated::compute(&demo::decode_persons_then_crash, json);
  const FrameStats crashed = demo::run_frames([&] { return ready(crashing); });
  std::string outcome;
  std::string report;
  try {
    crashing.get();
    outcome = "no crash?";
  } catch (const isolated::IsolateExited& e) {
    outcome = "IsolateExited, signal " + std::to_string(e.signal().value_or(0));
    report = e.crash_report();
  }
  print_row("(c) compute() whose worker crashes", crashed, outcome);
  if (!report.empty()) {
    std::printf("\ncrash report of (c), as the host received it:\n%s\n", report.c_str());
  }

  std::printf("\n");
  const std::size_t images = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 48;
  // Caught here, not left to escape main: only then is the stack unwound for
  // certain, so the scenario's scratch directory and pools are cleaned up.
  try {
    return demo::run_image_scenario(images);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image scenario failed: %s\n", e.what());
    return EXIT_FAILURE;
  }
}
