// A person-readable summary of a cleared batch: what traded, at what prices, and which way it flowed.
#pragma once

#include <cstdio>

#include "matcher/clearing.hpp"
#include "matcher/topology.hpp"

namespace ewx::tools {

void print_market_report(std::FILE* out, const Batch& batch, const Topology& topology, const ClearingResult& result);

}  // namespace ewx::tools
