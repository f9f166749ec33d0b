// Reading a segment that another process owns, without mapping it (for
// isolated-ps, which inspects every isolate of the user).
//
// Why not a read-only mapping: the segment's owner may be a hostile or broken
// worker. If it shrinks the segment (ftruncate) while we read through a
// mapping, the read faults with SIGBUS and the inspecting tool dies. pread on
// a descriptor cannot fault: past the new end it returns fewer bytes. And a
// descriptor opened O_RDONLY can never be used to write.
//
// Only a regular file owned by this user is accepted (segments are 0600, so a
// file of somebody else's in /dev/shm with our name form is not ours).
//
// The descriptor stays open while the reader lives (close-on-exec): keep a
// reader only as long as the reading takes.
#pragma once

#include "common/src/os/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace isolated::detail {

class SegmentReader {
 public:
  // Opens the segment `name` (of the form shm/names.hpp describes) read-only.
  // Throws isolated::Error if the name is not of that form, if it does not
  // exist (any more), or if it is not a regular file of this user.
  static SegmentReader open(std::string_view name);

  // Opens a file that is a segment by another path, such as
  // /proc/<pid>/map_files/<range>, with the same checks.
  static SegmentReader open_path(const std::string& path);

  // The size when it was opened; the owner may change it later.
  std::size_t size() const noexcept { return size_; }

  // Copies up to out.size() bytes at `offset` into `out`; returns how many
  // (fewer when the segment is shorter now). Throws isolated::Error if the
  // read fails.
  std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) const;

  // Copies exactly out.size() bytes, or throws isolated::Error saying the
  // segment is shorter than that.
  void read_exactly(std::uint64_t offset, std::span<std::byte> out) const;

 private:
  explicit SegmentReader(UniqueFd descriptor) noexcept : descriptor_(std::move(descriptor)) {}
  static SegmentReader checked(UniqueFd descriptor, const std::string& what);

  UniqueFd descriptor_;
  std::size_t size_ = 0;
};

}  // namespace isolated::detail
