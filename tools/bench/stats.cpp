#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <stdexcept>

namespace isolated::bench {

namespace {

// Sample at nearest rank ceil(percent * n / 100) (1-based) of sorted samples.
// Integer arithmetic so that e.g. p99 of 100 samples is exactly rank 99.
double nearest_rank(const std::vector<double>& sorted, std::size_t percent) {
  const std::size_t rank = (percent * sorted.size() + 99) / 100;
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

Summary summarize(std::vector<double> samples_us) {
  if (samples_us.empty()) throw std::invalid_argument("summarize: no samples");
  // std::sort needs a strict weak order, which a NaN breaks.
  if (std::any_of(samples_us.begin(), samples_us.end(), [](double s) { return std::isnan(s); }))
    throw std::invalid_argument("summarize: a sample is NaN");
  std::sort(samples_us.begin(), samples_us.end());
  return Summary{nearest_rank(samples_us, 50), nearest_rank(samples_us, 99), samples_us.size()};
}

std::string format_rate(double per_second) {
  if (!std::isfinite(per_second) || per_second < 0) return "n/a";
  static constexpr const char* kPrefix[] = {"", "k", "M", "G"};
  std::size_t unit = 0;
  double scaled = per_second;
  // Move up a prefix when three significant digits would round to 1000.
  while (unit + 1 < std::size(kPrefix) && scaled >= 999.5) {
    scaled /= 1000;
    ++unit;
  }
  const int decimals = scaled < 9.995 ? 2 : scaled < 99.95 ? 1 : 0;
  char text[48];
  std::snprintf(text, sizeof text, "%.*f %s/s", decimals, scaled, kPrefix[unit]);
  return text;
}

}  // namespace isolated::bench
