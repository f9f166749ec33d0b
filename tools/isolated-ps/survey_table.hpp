// isolated-ps's report: the live isolates as a table in tree order, then
// footnotes, ended inboxes and corrupt segments.
#pragma once

#include "isolate_survey.hpp"

#include <string>

namespace isolated::ps {

std::string format_survey(const Survey& survey);

// A debug name as it may be printed: a worker chose those bytes, so anything
// but printable ASCII becomes \xNN (no terminal escape sequences get through).
std::string printable(const std::string& raw);

}  // namespace isolated::ps
