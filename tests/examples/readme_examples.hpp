// The README's examples, as functions the tests call.
#pragma once

#include <cstdint>
#include <string>

std::string greet_from_an_isolate();
int age_of_ada();
std::uint64_t sum_in_an_isolate();
