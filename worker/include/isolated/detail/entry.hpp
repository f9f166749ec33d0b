// Entry functions cross the process boundary as (module, offset) (DESIGN §2):
// the worker runs the same binary, so `module base + offset` is the same
// code there. Two addresses travel: a typed trampoline, instantiated here per
// argument type, that decodes the argument; and the entry function itself. A
// capture-less lambda becomes a function pointer (unary +), so it travels the
// same way; a capturing one cannot, and fails to compile.
#pragma once

#include <isolated/message.hpp>

#include <type_traits>

namespace isolated::detail {

using AnyFunction = void (*)();
using EntryTrampoline = void (*)(AnyFunction target, Message argument);

struct EntryPoint {
  EntryTrampoline trampoline = nullptr;
  AnyFunction target = nullptr;  // the entry function, or null for a lambda
};

// The argument type T of an entry `void(T)`.
template <class F>
struct entry_argument : entry_argument<decltype(&F::operator())> {};
template <class R, class T>
struct entry_argument<R (*)(T)> {
  using type = T;
  using result = R;
};
template <class R, class C, class T>
struct entry_argument<R (C::*)(T) const> {
  using type = T;
  using result = R;
};
template <class R, class C, class T>
struct entry_argument<R (C::*)(T)> {
  using type = T;
  using result = R;
};

template <class F>
inline constexpr bool is_stateless_callable =
    std::is_pointer_v<F> || (std::is_empty_v<F> && std::is_default_constructible_v<F>);

template <class F>
constexpr void check_stateless() {
  static_assert(is_stateless_callable<F>,
                "isolated: a capturing lambda cannot run in another isolate: its captures live "
                "in this process's memory, which the worker process does not share. Pass a "
                "plain function or a lambda without captures, and send the data it needs as "
                "the message.");
}

template <class T>
void call_function_entry(AnyFunction target, Message argument) {
  reinterpret_cast<void (*)(T)>(target)(argument.as<std::remove_cvref_t<T>>());
}

// `entry` is a function pointer, or a capture-less lambda.
template <class Entry>
EntryPoint make_entry_point(Entry entry) {
  check_stateless<Entry>();
  if constexpr (is_stateless_callable<Entry>) {
    auto* function = +entry;
    using T = typename entry_argument<decltype(function)>::type;
    static_assert(std::is_void_v<typename entry_argument<decltype(function)>::result>,
                  "isolated: an isolate's entry returns void; send results through a port, or "
                  "use isolated::compute for a function with a result");
    return {&call_function_entry<T>, reinterpret_cast<AnyFunction>(function)};
  } else {
    return {};
  }
}

}  // namespace isolated::detail
