// The one place that knows the shape of shared-memory names:
//   /isolated.<root pid>.<16 random hex digits>.<kind>
// The root pid ties every segment to the session (the root isolate and all its
// workers), so a root can remove what its session left, and a tool can remove
// what a dead root left. A name read from shared memory is only ever opened if
// it has this shape.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isolated::detail {

enum class SegmentKind { inbox, lane, out_of_line, transferable, boot };

std::string_view to_string(SegmentKind kind) noexcept;

// The longest name make_segment_name can produce, with its terminating NUL.
inline constexpr std::size_t kMaxSegmentNameBytes = 64;

// The pid of this session's root isolate: the one a worker joined
// (join_session), else this process's own pid.
int session_root_pid();

// Makes this process the root of its own session (used after fork in tests and
// by a root started from another root).
void become_session_root();

// Joins the session of `root_pid` (a worker, told by its parent).
void join_session(int root_pid);

// A fresh, unguessable name in this session.
std::string make_segment_name(SegmentKind kind);

struct ParsedSegmentName {
  int root_pid;
  SegmentKind kind;
};

// `name` as shm_open and shm_unlink take it: with one leading '/'.
std::string shm_object_name(std::string_view name);

// The parts of a well-formed name (leading '/' optional), or nothing.
std::optional<ParsedSegmentName> parse_segment_name(std::string_view name);

// Names (with leading '/') of the segments in /dev/shm that belong to the
// session of `root_pid`.
std::vector<std::string> list_session_segments(int root_pid);

// Unlinks every segment of the session of `root_pid`; returns how many.
std::size_t unlink_session_segments(int root_pid);

}  // namespace isolated::detail
