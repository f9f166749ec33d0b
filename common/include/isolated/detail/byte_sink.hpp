// The stream msgpack::packer writes to: it appends straight to the caller's
// byte vector, so encoding makes no intermediate buffer and no extra copy.
#pragma once

#include <isolated/detail/big_endian.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace isolated::detail {

// msgpack writes many pieces of a few bytes each. The sink grows the vector
// ahead (to twice what is written, value-initialized), copies each piece with
// one memcpy, and keeps its own copy of the vector's pointer and size, which
// the compiler would otherwise reload after every byte written. Until the sink
// goes away the vector ends in spare zero bytes; then it is cut back to what
// was written, also when packing threw.
class ByteSink {
 public:
  explicit ByteSink(std::vector<std::byte>& out) noexcept
      : out_(&out), data_(out.data()), used_(out.size()), size_(out.size()) {}
  ByteSink(const ByteSink&) = delete;
  ByteSink& operator=(const ByteSink&) = delete;
  ~ByteSink() { out_->resize(used_); }

  // Called by msgpack::packer for every header and body it writes.
  void write(const char* data, std::size_t size) {
    if (size == 0) return;  // msgpack may pass a null pointer then
    if (size > size_ - used_) grow(size);
    std::memcpy(data_ + used_, data, size);
    used_ += size;
  }

 private:
  void grow(std::size_t size) {
    constexpr std::size_t kFirstSize = 64;
    out_->resize(std::max({used_ + size, 2 * used_, kFirstSize}));
    data_ = out_->data();
    size_ = out_->size();
  }

  std::vector<std::byte>* out_;
  std::byte* data_;
  std::size_t used_;  // bytes of *out_ that hold what was written
  std::size_t size_;  // out_->size()
};

// msgpack's float32 / float64: a header byte, then the bits big-endian.
template <class Bits>
void write_float(ByteSink& sink, unsigned char header, Bits bits) {
  char buffer[1 + sizeof bits];
  buffer[0] = static_cast<char>(header);
  store_big_endian(bits, buffer + 1);
  sink.write(buffer, sizeof buffer);
}

}  // namespace isolated::detail

// msgpack-cxx 4 writes a float or double that holds a whole number as an
// integer, so 2.0 would arrive as int 2 and -0.0 as 0 (and 2^64 hits undefined
// behaviour in its range check). In a message a floating-point value stays
// one, as in Dart: every packer isolated encodes with writes them as msgpack
// floats. (Explicit specializations of members of msgpack's packer for
// isolated's own stream type; msgpack's packers for other streams are left as
// they are.)
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(v1) {

template <>
inline packer<isolated::detail::ByteSink>&
packer<isolated::detail::ByteSink>::pack_float(float d) {
  isolated::detail::write_float(m_stream, 0xca, std::bit_cast<std::uint32_t>(d));
  return *this;
}

template <>
inline packer<isolated::detail::ByteSink>&
packer<isolated::detail::ByteSink>::pack_double(double d) {
  isolated::detail::write_float(m_stream, 0xcb, std::bit_cast<std::uint64_t>(d));
  return *this;
}

}  // MSGPACK_API_VERSION_NAMESPACE(v1)
}  // namespace msgpack
