#include "image_scenario.hpp"

#include "images.hpp"
#include "progress_row.hpp"
#include "scratch_directory.hpp"

#include <isolated/isolated.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace demo {
namespace {

using Clock = std::chrono::steady_clock;

// One way of downscaling all the images: what it wrote, and how fast.
struct Run {
  std::vector<Downscaled> results;  // sorted by path, so runs compare element by element
  double seconds = 0;
  double startup_ms = -1;  // starting the pool, not timed in `seconds`; -1: no pool

  double images_per_second() const { return static_cast<double>(results.size()) / seconds; }
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string figures_of(const Run& run) {
  char startup[32] = "-";
  if (run.startup_ms >= 0) std::snprintf(startup, sizeof startup, "%.1f ms", run.startup_ms);
  char figures[96];
  std::snprintf(figures, sizeof figures, "%9.1f %8.2f s %10s", run.images_per_second(), run.seconds,
                startup);
  return figures;
}

void sort_by_path(std::vector<Downscaled>& results) {
  std::sort(results.begin(), results.end(),
            [](const Downscaled& a, const Downscaled& b) { return a.path < b.path; });
}

// Through LoadBalancer::map on a pool of `runners` isolates, each task given
// an image's path and answering with the downscaled file's path and checksum:
// only names cross the process boundary, the pixels stay in files.
Run downscale_on_pool(std::size_t runners, const std::vector<std::string>& paths,
                      const std::string& label) {
  Run run;
  // A pool is started once and then reused for every image (the article's
  // advice against spawning an isolate per task), so its start-up is shown
  // apart from the throughput.
  const auto started = Clock::now();
  auto pool =
      isolated::LoadBalancer::create(runners, [] { return isolated::IsolateRunner::spawn(); });
  run.startup_ms = seconds_since(started) * 1000;

  ProgressRow row(label, paths.size());
  isolated::MapOptions options;
  // Two per runner: one running and one queued behind it, so that no runner
  // waits for the main isolate to take a result and send the next path.
  options.max_in_flight = 2 * runners;
  // In completion order: the bar moves with every image done, and a slow
  // image does not hold back the results behind it.
  options.ordered = false;
  const auto start = Clock::now();
  for (Downscaled& result : pool.map(paths, &downscale_image, options)) {
    run.results.push_back(std::move(result));
    row.advance();
  }
  run.seconds = seconds_since(start);
  pool.close();  // its processes end here, before the next way is timed
  sort_by_path(run.results);
  row.finish(figures_of(run));
  return run;
}

// The same function, called in turn on this thread: the baseline.
Run downscale_on_main_thread(const std::vector<std::string>& paths, const std::string& label) {
  Run run;
  ProgressRow row(label, paths.size());
  const auto start = Clock::now();
  for (const std::string& path : paths) {
    run.results.push_back(downscale_image(path));
    row.advance();
  }
  run.seconds = seconds_since(start);
  sort_by_path(run.results);
  row.finish(figures_of(run));
  return run;
}

// Every way must have written the same bytes for every image: a result lost,
// duplicated or given to the wrong image would show here. Prints the first
// difference to stderr.
bool same_results(const Run& expected, const Run& actual, const char* way) {
  if (actual.results == expected.results) return true;
  std::fprintf(stderr, "\nMISMATCH between %s and the main thread:\n", way);
  if (actual.results.size() != expected.results.size()) {
    std::fprintf(stderr, "  %zu results, the main thread %zu\n", actual.results.size(),
                 expected.results.size());
  }
  const std::size_t common = std::min(actual.results.size(), expected.results.size());
  for (std::size_t i = 0; i < common; ++i) {
    const Downscaled& got = actual.results[i];
    const Downscaled& want = expected.results[i];
    if (got == want) continue;
    std::fprintf(stderr, "  %s: checksum %016" PRIx64 ", %" PRIu64 " bytes\n", got.path.c_str(),
                 got.checksum, got.bytes);
    std::fprintf(stderr, "  %s: checksum %016" PRIx64 ", %" PRIu64 " bytes on the main thread\n",
                 want.path.c_str(), want.checksum, want.bytes);
    break;
  }
  return false;
}

// Each way starts without the previous way's downscaled files. On ext4, a
// file truncated and written again is flushed to disk when it is closed
// (auto_da_alloc), and truncating it waits for that write-back: rewriting them
// would time the disk, not the downscaling.
void remove_outputs(const Run& run) {
  for (const Downscaled& result : run.results) std::filesystem::remove(result.path);
}

}  // namespace

int run_image_scenario(std::size_t image_count) {
  if (image_count == 0) throw std::invalid_argument("the image scenario needs at least one image");
  // At least 2, so that the pool has something to balance even on one CPU.
  const std::size_t cpus = std::max(2U, std::thread::hardware_concurrency());
  const ScratchDirectory directory("isolated-demo-images-");
  const auto writing = Clock::now();
  const std::vector<std::string> paths = write_test_images(directory.path(), image_count);
  const double megabytes =
      static_cast<double>(image_count * kImageWidth * kImageHeight * kImageChannels) / 1e6;
  std::printf(
      "isolated demo, second scenario: %zu images of %zux%zu (%.0f MB of PPM) downscaled %zux,\n"
      "their paths fed to map on a pool of %zu isolates, to one isolate, and to the main thread\n"
      "(images written in %.2f s to %s, removed at the end)\n\n",
      image_count, kImageWidth, kImageHeight, megabytes, kDownscaleFactor, cpus,
      seconds_since(writing), directory.path().c_str());
  std::printf("%-*s %-*s %*s  %9s %10s %10s\n", ProgressRow::kLabelWidth, "way",
              ProgressRow::kBarWidth + 2, "progress", ProgressRow::kCountWidth, "done", "images/s",
              "time", "start-up");

  const Run pool = downscale_on_pool(cpus, paths, "pool of " + std::to_string(cpus) + ", map");
  remove_outputs(pool);
  const Run one_isolate = downscale_on_pool(1, paths, "one isolate (pool of 1, map)");
  remove_outputs(one_isolate);
  const Run main_thread = downscale_on_main_thread(paths, "main thread alone");

  const double pool_rate = pool.images_per_second();
  const double one_isolate_rate = one_isolate.images_per_second();
  const double main_thread_rate = main_thread.images_per_second();
  std::printf("\npool of %zu: %.2fx the main thread, %.2fx one isolate", cpus,
              pool_rate / main_thread_rate, pool_rate / one_isolate_rate);
  std::printf("; one isolate: %.2fx the main thread\n", one_isolate_rate / main_thread_rate);

  const bool pool_agrees = same_results(main_thread, pool, "the pool");
  const bool one_isolate_agrees = same_results(main_thread, one_isolate, "one isolate");
  if (!pool_agrees || !one_isolate_agrees) {
    std::fprintf(stderr, "the three ways did NOT write the same images\n");
    return EXIT_FAILURE;
  }
  std::printf("checksums: the three ways wrote the same %zu images of %zux%zu, byte for byte\n",
              main_thread.results.size(), kImageWidth / kDownscaleFactor,
              kImageHeight / kDownscaleFactor);
  return EXIT_SUCCESS;
}

}  // namespace demo
