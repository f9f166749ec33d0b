#include "segment.hpp"

#include "common/src/os/syscall.hpp"

#include <isolated/error.hpp>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <sys/mman.h>

#include <utility>

namespace isolated::detail {

namespace bip = boost::interprocess;

struct Segment::Mapping {
  bip::mapped_region region;
};

namespace {

bip::permissions owner_only() {
  bip::permissions perm;
  perm.set_permissions(0600);
  return perm;
}

}  // namespace

Segment::Segment() noexcept = default;
Segment::Segment(Segment&& other) noexcept
    : name_(std::move(other.name_)),
      mapping_(std::move(other.mapping_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owns_name_(std::exchange(other.owns_name_, false)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    if (owns_name_) unlink();
    name_ = std::move(other.name_);
    mapping_ = std::move(other.mapping_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owns_name_ = std::exchange(other.owns_name_, false);
  }
  return *this;
}

Segment::~Segment() {
  if (owns_name_) unlink();
}

Segment::Segment(std::string name, std::unique_ptr<Mapping> mapping, bool owns_name) noexcept
    : name_(std::move(name)),
      mapping_(std::move(mapping)),
      data_(static_cast<std::byte*>(mapping_->region.get_address())),
      size_(mapping_->region.get_size()),
      owns_name_(owns_name) {}

Segment Segment::create(SegmentKind kind, std::size_t size) {
  return create_named(make_segment_name(kind), kind, size);
}

Segment Segment::create_named(std::string name, SegmentKind kind, std::size_t size) {
  if (size == 0) throw UsageError("cannot create an empty shared-memory segment");
  const auto parsed = parse_segment_name(name);
  if (!parsed || parsed->kind != kind) {
    throw TransportError("refusing to create shared-memory segment '" + name + "': not a name of the form "
                "/isolated.<root pid>.<random>.<kind> for this kind");
  }
  try {
    bip::shared_memory_object object(bip::create_only, name.c_str(), bip::read_write,
                                     owner_only());
    try {
      object.truncate(static_cast<bip::offset_t>(size));
      auto mapping = std::make_unique<Mapping>(Mapping{bip::mapped_region(object, bip::read_write)});
      return Segment(std::move(name), std::move(mapping), true);
    } catch (...) {
      bip::shared_memory_object::remove(name.c_str());
      throw;
    }
  } catch (const bip::interprocess_exception& e) {
    const std::string what =
        "cannot create shared-memory segment " + name + " of " + std::to_string(size) + " bytes";
    // A limit (a full /dev/shm, no descriptor left) is ResourceExhausted.
    if (const int error = e.get_native_error(); error != 0) throw_system_error(what, error);
    throw SystemError(what + ": " + e.what(), 0);
  }
}

Segment Segment::open(std::string_view name, SegmentKind expected_kind, std::size_t min_size) {
  const auto parsed = parse_segment_name(name);
  if (!parsed) {
    throw TransportError("refusing to open shared-memory segment '" + std::string(name) +
                "': not a name of the form /isolated.<root pid>.<random>.<kind>");
  }
  if (parsed->kind != expected_kind) {
    throw TransportError("refusing to open shared-memory segment '" + std::string(name) + "': expected a segment of kind " +
                std::string(to_string(expected_kind)));
  }
  std::string full_name = shm_object_name(name);
  try {
    bip::shared_memory_object object(bip::open_only, full_name.c_str(), bip::read_write);
    bip::offset_t size = 0;
    if (!object.get_size(size) || static_cast<std::size_t>(size) < min_size || size == 0) {
      throw TransportError("shared-memory segment " + full_name + " is " + std::to_string(size) +
                  " bytes, smaller than the " + std::to_string(min_size) + " it must hold");
    }
    auto mapping = std::make_unique<Mapping>(Mapping{bip::mapped_region(object, bip::read_write)});
    return Segment(std::move(full_name), std::move(mapping), false);
  } catch (const bip::interprocess_exception& e) {
    throw TransportError("cannot open shared-memory segment " + full_name + ": " + e.what());
  }
}

void Segment::unlink() noexcept {
  owns_name_ = false;
  if (!name_.empty()) unlink_segment(name_);
}

bool unlink_segment(std::string_view name) noexcept {
  const std::string full_name = shm_object_name(name);
  return ::shm_unlink(full_name.c_str()) == 0;
}

}  // namespace isolated::detail
