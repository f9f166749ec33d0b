// An Outcome as text, for a failed check: how the trial ended, the exception,
// the crash report and the last lines of output.
#include "common/src/os/signal_name.hpp"

#include <isolated/testing.hpp>

#include <cstdio>
#include <optional>
#include <vector>

namespace isolated::testing {
namespace {

constexpr std::size_t kLastLines = 20;

// Output from the child, made safe for a terminal and an XML report.
std::string printable(std::string_view line) {
  std::string out;
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 && c != '\t') || byte == 0x7f ? '?' : c;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

// Where a backtrace leaves the code under test: the library's call of the
// trial's function, and the Catch2 machinery around a test case's body.
constexpr std::string_view kEntryFrames[] = {
    "isolated::detail::call_compute<",
    "isolated::detail::call_run<",
    "Catch::TestInvokerAsFunction::invoke()",
    "isolated::testing::catch2_detail::",
};

bool is_entry_frame(std::string_view line) {
  // "  #3 <function>+0x.. in <module>+0x.."
  const auto space = line.find(' ', line.find('#'));
  if (space == std::string_view::npos) return false;
  const std::string_view function = line.substr(space + 1);
  for (const std::string_view entry : kEntryFrames) {
    if (function.starts_with(entry)) return true;
  }
  return false;
}

// A crash report or a stack trace without the frames below the trial's
// function (the library's and the test framework's, down to main), which
// say nothing about the code under test.
std::string up_to_the_entry(std::string_view backtrace) {
  const auto lines = lines_of(backtrace);
  std::string kept;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_entry_frame(lines[i])) {
      return kept + "  (" + std::to_string(lines.size() - i) +
             " more frames: where the library called it, down to main)";
    }
    kept += std::string(lines[i]) + '\n';
  }
  if (!kept.empty()) kept.pop_back();
  return kept;
}

// The line a sanitizer begins its report with, if the output has one: the
// trial then ended by the sanitizer's hand (its abort or its exit code),
// whatever the code did that it caught.
std::optional<std::string_view> sanitizer_headline(std::string_view output) {
  constexpr std::string_view kHeadlines[] = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
      ": runtime error: ",  // UndefinedBehaviorSanitizer
  };
  for (const std::string_view line : lines_of(output)) {
    for (const std::string_view headline : kHeadlines) {
      if (line.find(headline) != std::string_view::npos) return line;
    }
  }
  return std::nullopt;
}

void append_indented(std::string& out, std::string_view text) {
  for (const std::string_view line : lines_of(text)) {
    out += "  ";
    out += line;
    out += '\n';
  }
}

std::string milliseconds(std::chrono::nanoseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms",
                std::chrono::duration<double, std::milli>(duration).count());
  return text;
}

}  // namespace

std::string signal_name(int signal) {
  return isolated::detail::signal_abbreviation(signal);
}

namespace detail {

void throw_no_result(const std::string& outcome) {
  throw UsageError("Outcome::result: the trial did not return a value:\n" + outcome);
}

}  // namespace detail

std::string Outcome::to_string() const {
  const detail::OutcomeFields& f = fields_;
  std::string out = "the trial ";
  switch (f.ending) {
    case Ending::returned:
      out += "returned";
      break;
    case Ending::threw:
      out += "threw " + f.exception_type + ": " + f.what;
      break;
    case Ending::exited:
      out += "exited with code " + (f.exit_code ? std::to_string(*f.exit_code) : "?");
      break;
    case Ending::signaled:
      out +=
          "was killed by " + (f.signal ? isolated::detail::describe_signal(*f.signal) : "a signal");
      break;
    case Ending::timed_out:
      out += "timed out after " + std::to_string(f.timeout.count()) + " ms and was killed" +
             (f.signal ? " by " + signal_name(*f.signal) : "");
      break;
  }
  out += " (after " + milliseconds(f.duration) + ")\n";
  if (const auto headline = sanitizer_headline(f.output)) {
    out += "a sanitizer reported (its report is in the output):\n  " + printable(*headline) + '\n';
  }
  if (!f.stack_trace.empty()) {
    out += "thrown at:\n";
    append_indented(out, up_to_the_entry(f.stack_trace));
  }
  if (!f.crash_report.empty()) {
    out += "crash report:\n";
    append_indented(out, up_to_the_entry(f.crash_report));
  }
  const auto lines = lines_of(f.output);
  if (!lines.empty()) {
    const std::size_t first = lines.size() > kLastLines ? lines.size() - kLastLines : 0;
    out += first == 0 && !f.output_truncated
               ? "output:\n"
               : "output (the last " + std::to_string(lines.size() - first) + " lines):\n";
    for (std::size_t i = first; i < lines.size(); ++i) {
      out += "  | " + printable(lines[i]) + '\n';
    }
  }
  out.pop_back();  // the last newline
  return out;
}

}  // namespace isolated::testing
