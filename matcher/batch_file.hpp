// ewx's own batch files: the orders and offers of one batch as text, one participant per line.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "matcher/market.hpp"
#include "matcher/topology.hpp"

namespace ewx {

// Parses a batch file (format in docs/formats.md) against `topology`, which resolves hub and cluster keys.
// Every field is range-checked; duplicate ids, unknown hubs or clusters, empty windows and anything else
// malformed throw InputError naming the line.
Batch parse_batch(std::string_view text, const std::string& name, const Topology& topology);

// The batch as parse_batch reads it back: `format_batch` returns the text, `write_batch` writes it.
std::string format_batch(const Batch& batch, const Topology& topology);
void write_batch(std::ostream& out, const Batch& batch, const Topology& topology);

// True when `text` starts (after comments) with the batch file header.
bool looks_like_batch(std::string_view text);

}  // namespace ewx
