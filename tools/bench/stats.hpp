// Summaries of benchmark samples: median and p99 of per-operation times, and
// rates printed the way docs/BENCHMARKS.md prints them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace isolated::bench {

struct Summary {
  double median_us;
  double p99_us;
  std::size_t samples;
};

// Nearest-rank percentiles: the p-th percentile is the sample at rank
// ceil(p/100 * n) of the sorted samples, so every reported figure is a time
// that was actually measured (no interpolation). For an even count the median
// is the lower of the two middle samples.
// Throws std::invalid_argument if `samples_us` is empty or holds a NaN.
Summary summarize(std::vector<double> samples_us);

// Three significant digits with a k/M/G prefix: 1380000 -> "1.38 M/s",
// 174e6 -> "174 M/s", 950 -> "950 /s". Negative or non-finite input -> "n/a".
std::string format_rate(double per_second);

}  // namespace isolated::bench
