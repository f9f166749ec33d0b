#include "progress_row.hpp"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace demo {

ProgressRow::ProgressRow(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), on_terminal_(::isatty(STDOUT_FILENO) != 0) {
  redraw();  // the empty bar: the row's work has started
}

ProgressRow::~ProgressRow() {
  if (on_terminal_ && !finished_) std::fputc('\n', stdout);
}

void ProgressRow::advance() {
  ++done_;
  redraw();
}

void ProgressRow::finish(const std::string& figures) {
  finished_ = true;
  // On a terminal this overwrites the bar drawn last: the finished row starts
  // with the same characters and is longer, so nothing of the old one shows.
  std::printf("%s%s  %s\n", on_terminal_ ? "\r" : "", row().c_str(), figures.c_str());
  std::fflush(stdout);
}

std::string ProgressRow::row() const {
  const std::size_t filled = total_ == 0 ? kBarWidth : done_ * kBarWidth / total_;
  std::string bar(filled, '#');
  bar.resize(kBarWidth, '.');
  char count[48];
  std::snprintf(count, sizeof count, "%zu/%zu", done_, total_);
  char line[256];
  std::snprintf(line, sizeof line, "%-*s [%s] %*s", kLabelWidth, label_.c_str(), bar.c_str(),
                kCountWidth, count);
  return line;
}

void ProgressRow::redraw() const {
  if (!on_terminal_) return;
  std::printf("\r%s", row().c_str());
  std::fflush(stdout);  // stdout is line-buffered on a terminal: no line ends here
}

}  // namespace demo
