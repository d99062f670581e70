// Clearing prices: the buyer-optimal competitive-equilibrium price of every offer in a cleared batch.
#pragma once

#include <vector>

#include "matcher/batch_builder.hpp"
#include "matcher/transportation.hpp"

namespace ewx {

// Given an optimal solution of `graph`'s problem, returns each offer's premium over its ask: the unit price
// of offer j is ask_j + premium[j]. These are the smallest prices at which the batch's allocation is a
// competitive equilibrium (docs/clearing.md). Throws std::logic_error if the solution's potentials do not
// satisfy complementary slackness (a solver bug, never bad input).
std::vector<Fen> buyer_optimal_premiums(const MarketGraph& graph, const TransportationSolution& solution);

}  // namespace ewx
