// One row of a results table that fills up as results come in: a label, a
// bar and a count, then the row's figures once it is done. On a terminal the
// row is redrawn in place (\r) after every result; anywhere else (a pipe, a
// log file) only the finished row is printed, so that the output stays one
// clean line per row instead of a string of carriage returns.
#pragma once

#include <cstddef>
#include <string>

namespace demo {

class ProgressRow {
 public:
  ProgressRow(std::string label, std::size_t total);
  // Ends a row left unfinished by an exception, so the error starts a line.
  ~ProgressRow();
  ProgressRow(const ProgressRow&) = delete;
  ProgressRow& operator=(const ProgressRow&) = delete;

  // One more result in.
  void advance();
  // Prints the full row followed by `figures`, and ends the line.
  void finish(const std::string& figures);

  // The widths of the label, the bar (inside its brackets) and the count
  // ("12/48"), for the table's header to line up with.
  static constexpr int kLabelWidth = 30;
  static constexpr int kBarWidth = 24;
  static constexpr int kCountWidth = 9;

 private:
  std::string row() const;
  void redraw() const;

  std::string label_;
  std::size_t total_;
  std::size_t done_ = 0;
  bool on_terminal_;
  bool finished_ = false;
};

}  // namespace demo
