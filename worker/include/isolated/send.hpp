// SendPort::send: encode, then hand the bytes to the runtime.
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/runtime_calls.hpp>
#include <isolated/send_port.hpp>

#include <utility>

namespace isolated {

template <class T>
bool SendPort::send(T&& message) const {
  auto& buffer = detail::encode_buffer();
  buffer.clear();
  detail::encode(message, buffer);
  return detail::post_message(*this, buffer);
}

}  // namespace isolated
