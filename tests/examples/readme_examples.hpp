// The README's examples, as functions the tests call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

std::string greet_from_an_isolate();
int age_of_ada();
std::uint64_t sum_in_an_isolate();
std::vector<std::size_t> words_per_document(const std::vector<std::string>& documents);
std::vector<std::string> shout_in_worker_binaries(const std::string& worker_binary,
                                                  const std::vector<std::string>& texts);
