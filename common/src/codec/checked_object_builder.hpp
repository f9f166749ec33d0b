// Decoding untrusted bytes: msgpack's object builder with the checks a
// message from another process needs, and the storage a decoded Message owns.
// Only message.cpp decodes; this header keeps the checks in one place.
#pragma once

#include <isolated/detail/ext_types.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace isolated::detail {

[[noreturn]] inline void malformed(const std::string& why) {
  throw DecodeError("malformed message: " + why);
}

// The tree's strings, bins and extensions point into the message's bytes,
// which live as long as the Message: nothing needs copying.
inline bool refer_to_input(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

// A zone chunk large enough for the objects of most messages at once (each
// list element takes a 24-byte object); bigger trees add chunks.
inline std::size_t object_zone_estimate(std::size_t length) {
  return std::clamp<std::size_t>(length * 4, 256, 8192);
}

// msgpack's own object builder, with the checks untrusted input needs, in the
// same single pass over the bytes (so the checks and the tree cannot disagree
// about what the bytes said). The parser calls these members by name (it is a
// template on the visitor type), so hiding the base's members is enough to
// step in. create_object_visitor is msgpack-cxx's internal builder (in its
// detail namespace, stable through 4.1); if an upgrade changes it, this class
// is the one place to adapt.
//
// The allocation bound: msgpack allocates a list's elements when it reads the
// list's header, before they arrive, so a 5-byte header claiming 2^32 elements
// would cost 96 GiB. Every msgpack item takes at least one byte, so a header
// is accepted only while the items read so far plus every element promised
// and not yet read fit in the message. Then the tree never holds more objects
// than the message has bytes.
class CheckedObjectBuilder : public msgpack::detail::create_object_visitor {
  using Base = msgpack::detail::create_object_visitor;

 public:
  explicit CheckedObjectBuilder(std::size_t length)
      : Base(refer_to_input, nullptr,
             // Redundant with the checks below; a second line of defence.
             msgpack::unpack_limit(length, length / 2, length, length, length,
                                   Message::kMaxNesting)),
        length_(length) {}

  bool visit_nil() {
    ++items_;
    return Base::visit_nil();
  }
  bool visit_boolean(bool v) {
    ++items_;
    return Base::visit_boolean(v);
  }
  bool visit_positive_integer(std::uint64_t v) {
    ++items_;
    return Base::visit_positive_integer(v);
  }
  bool visit_negative_integer(std::int64_t v) {
    ++items_;
    return Base::visit_negative_integer(v);
  }
  bool visit_float32(float v) {
    ++items_;
    return Base::visit_float32(v);
  }
  bool visit_float64(double v) {
    ++items_;
    return Base::visit_float64(v);
  }
  bool visit_str(const char* v, std::uint32_t size) {
    ++items_;
    return Base::visit_str(v, size);
  }
  bool visit_bin(const char* v, std::uint32_t size) {
    ++items_;
    return Base::visit_bin(v, size);
  }

  // `data` is the type byte followed by the payload.
  bool visit_ext(const char* data, std::uint32_t size) {
    ++items_;
    if (size < 1) malformed("an extension without a type");
    if (const char* problem = ext_payload_problem(static_cast<std::int8_t>(data[0]),
                                                  {data + 1, size - 1})) {
      malformed(problem);
    }
    return Base::visit_ext(data, size);
  }

  bool start_array(std::uint32_t count) {
    ++items_;
    enter_container();
    promise(count, count, "a list");
    return Base::start_array(count);
  }
  bool start_array_item() {
    --owed_;
    return Base::start_array_item();
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

  bool start_map(std::uint32_t count) {
    ++items_;
    enter_container();
    promise(2 * std::uint64_t{count}, count, "a map");
    return Base::start_map(count);
  }
  bool start_map_key() {
    --owed_;
    return Base::start_map_key();
  }
  bool start_map_value() {
    --owed_;
    return Base::start_map_value();
  }
  bool end_map() {
    --depth_;
    return Base::end_map();
  }

  void parse_error(std::size_t /*parsed_offset*/, std::size_t error_offset) {
    malformed("invalid msgpack at byte " + std::to_string(error_offset) + " of " +
              std::to_string(length_));
  }
  void insufficient_bytes(std::size_t /*parsed_offset*/, std::size_t /*error_offset*/) {
    malformed("truncated: its " + std::to_string(length_) + " bytes end inside a value");
  }

 private:
  void enter_container() {
    if (++depth_ > Message::kMaxNesting) {
      malformed("lists and maps nested deeper than " + std::to_string(Message::kMaxNesting) +
                " levels");
    }
  }

  // A list of `count` promises `count` elements; a map promises 2 * count.
  void promise(std::uint64_t elements, std::uint32_t count, const char* what) {
    owed_ += elements;
    if (items_ + owed_ > length_) {
      malformed(std::string(what) + " claims " + std::to_string(count) +
                " elements, more than the message's " + std::to_string(length_) +
                " bytes can hold");
    }
  }

  std::uint64_t length_;
  std::uint64_t items_ = 0;  // items begun so far; each took at least one byte
  std::uint64_t owed_ = 0;   // elements promised by open lists and maps, not yet begun
  std::size_t depth_ = 0;
};

}  // namespace isolated::detail
