#include "survey_table.hpp"

#include "tree_order.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace isolated::ps {
namespace {

using Cells = std::vector<std::string>;

const Cells kHeadings = {"PID", "PPID", "ROOT", "STATE", "LANES", "QUEUED", "BYTES", "NAME"};

std::string_view to_string(detail::InboxState state) {
  switch (state) {
    case detail::InboxState::starting:
      return "starting";
    case detail::InboxState::alive:
      return "alive";
    case detail::InboxState::closing:
      return "closing";
    case detail::InboxState::dead:
      return "dead";
  }
  return "?";
}

// A backlog figure: exact, "N+" when some lanes could not be counted, "?"
// when none could.
std::string backlog_cell(std::uint64_t value, const IsolateRow& row) {
  if (!row.backlog_incomplete()) return std::to_string(value);
  const std::size_t uncounted = row.lanes_unreadable + row.lanes_malformed + row.lanes_closed;
  if (uncounted >= row.lanes) return "?";
  return std::to_string(value) + "+";
}

Cells row_cells(const IsolateRow& row, std::size_t depth) {
  std::string name;
  if (depth > 0) name = std::string(2 * (depth - 1), ' ') + "\\_ ";
  name += row.debug_name.empty() ? "-" : printable(row.debug_name);
  return {std::to_string(row.pid),
          row.parent_pid == 0 ? "-" : std::to_string(row.parent_pid),
          std::to_string(row.root_pid),
          std::string(to_string(row.state)),
          std::to_string(row.lanes),
          backlog_cell(row.queued_frames, row),
          backlog_cell(row.queued_bytes, row),
          name};
}

// Right-aligned columns, the last one (the name) left-aligned and unpadded.
void print_table(const std::vector<Cells>& rows, std::ostringstream& out) {
  std::vector<std::size_t> widths(kHeadings.size(), 0);
  for (const Cells& cells : rows) {
    for (std::size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  }
  for (const Cells& cells : rows) {
    for (std::size_t i = 0; i + 1 < cells.size(); ++i) {
      const bool left = i == 3;  // STATE is a word
      const std::string padding(widths[i] - cells[i].size(), ' ');
      out << (left ? cells[i] + padding : padding + cells[i]) << "  ";
    }
    out << cells.back() << '\n';
  }
}

void print_footnotes(const Survey& survey, std::ostringstream& out) {
  std::size_t unreadable = 0;
  std::size_t malformed = 0;
  std::size_t closed = 0;
  for (const IsolateRow& row : survey.live) {
    unreadable += row.lanes_unreadable;
    malformed += row.lanes_malformed;
    closed += row.lanes_closed;
  }
  if (unreadable > 0) {
    out << "\n? or N+: " << unreadable
        << " attached lane(s) could not be read, so their backlog is not counted: a lane's\n"
           "  name is unlinked once its consumer maps it, and /proc/<pid>/map_files needs "
           "CAP_SYS_ADMIN.\n";
  }
  if (malformed > 0) {
    out << "\n"
        << malformed
        << " lane(s) not counted because their slot or ring does not hold up (a producer\n"
           "  wrote garbage).\n";
  }
  if (closed > 0) {
    out << "\n"
        << closed
        << " lane(s) closed by their consumer after a bad frame; what they hold is never read.\n";
  }
}

void print_ended(const Survey& survey, std::ostringstream& out) {
  if (survey.ended.empty()) return;
  out << "\ninboxes of isolates that have ended (isolated-ps --gc removes those whose root has "
         "ended):\n";
  for (const EndedInbox& inbox : survey.ended) {
    out << "  " << inbox.inbox_name << "  pid " << inbox.pid << ", root " << inbox.root_pid << '\n';
  }
}

void print_corrupt(const Survey& survey, std::ostringstream& out) {
  if (survey.corrupt.empty()) return;
  out << "\ncorrupt segments (not doorbells of this layout; skipped):\n";
  for (const CorruptSegment& segment : survey.corrupt) {
    out << "  corrupt " << segment.name << ": " << segment.reason << '\n';
  }
}

}  // namespace

std::string printable(const std::string& raw) {
  std::string text;
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      text += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      text += escaped;
    }
  }
  return text;
}

std::string format_survey(const Survey& survey) {
  std::ostringstream out;
  if (survey.live.empty()) {
    out << "no live isolates of this user\n";
  } else {
    std::vector<PidAndParent> processes;
    for (const IsolateRow& row : survey.live) processes.push_back({row.pid, row.parent_pid});
    std::vector<Cells> rows{kHeadings};
    for (const TreePosition& position : tree_order(processes)) {
      rows.push_back(row_cells(survey.live[position.index], position.depth));
    }
    print_table(rows, out);
    print_footnotes(survey, out);
  }
  print_ended(survey, out);
  print_corrupt(survey, out);
  return out.str();
}

}  // namespace isolated::ps
