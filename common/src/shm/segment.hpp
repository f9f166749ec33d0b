// A named POSIX shared-memory segment, mapped into this process.
//
// A Segment owns three things, and releases them in its destructor:
//  - the mapping (always unmapped);
//  - the name, if this object created it and has not handed it on: the
//    creator unlinks its name unless release_name() said that somebody else
//    (the peer that maps it) will;
//  - nothing else: no file descriptor is kept open once the segment is mapped,
//    so no descriptor can leak into a child process.
//
// Creation is O_CREAT | O_EXCL with mode 0600, under a fresh unguessable name
// (shm/names.hpp); open() accepts only names of that form.
#pragma once

#include "names.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace isolated::detail {

class Segment {
 public:
  Segment() noexcept;
  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  // Creates, sizes and maps a new zero-filled segment. Throws isolated::Error.
  static Segment create(SegmentKind kind, std::size_t size);
  // The same under a name made beforehand by make_segment_name(kind) (a
  // parent names its child's inbox, so it can remove it whatever happens).
  static Segment create_named(std::string name, SegmentKind kind, std::size_t size);

  // Maps an existing segment read-write. Throws isolated::Error if the name is
  // not one of ours, if it must be of `expected_kind` and is not, or if the
  // segment does not exist or is smaller than `min_size`.
  static Segment open(std::string_view name, SegmentKind expected_kind, std::size_t min_size = 0);

  bool valid() const noexcept { return data_ != nullptr; }
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }

  // Removes the name now; the mapping stays usable. Idempotent, never throws.
  void unlink() noexcept;

  // This object will not unlink the name: it was handed to a peer who will.
  void release_name() noexcept { owns_name_ = false; }
  bool owns_name() const noexcept { return owns_name_; }

 private:
  struct Mapping;
  Segment(std::string name, std::unique_ptr<Mapping> mapping, bool owns_name) noexcept;

  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool owns_name_ = false;
};

// Unlinks a segment by name; false if it did not exist. Never throws.
bool unlink_segment(std::string_view name) noexcept;

}  // namespace isolated::detail
