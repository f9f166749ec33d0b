// SendPort::send: encode, then hand the bytes to the runtime.
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/runtime_calls.hpp>
#include <isolated/send_port.hpp>
#include <isolated/transferable.hpp>

#include <utility>

namespace isolated {

template <class T>
bool SendPort::send(T&& message) const {
  // Transferables in the message move to the receiver only if it went out.
  detail::TransferScope transfers;
  auto& buffer = detail::encode_buffer();
  buffer.clear();
  detail::encode(message, buffer);
  const bool sent = detail::post_message(*this, buffer);
  if (sent) transfers.commit();
  return sent;
}

}  // namespace isolated
