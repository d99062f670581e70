// Problems the solver tests share: brute force on tiny problems (independent of every ewx algorithm on
// purpose), seeded random transportation problems and dense assignments. Used by the CPU solver's tests and
// the parallel solver's, so both are checked on the same kinds of instance.
#pragma once

#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>
#include <vector>

#include "matcher/batch_builder.hpp"
#include "matcher/market_generator.hpp"
#include "matcher/transportation.hpp"

namespace ewx::testing {

// Tries every integer flow of a tiny problem. Returns the minimum cost, or nothing if no flow ships all
// supply. Independent of every ewx algorithm on purpose.
inline std::optional<Objective> brute_force_minimum(const TransportationProblem& p) {
  std::vector<Quantity> shipped(p.source_count(), 0), received(p.sink_count(), 0);
  std::optional<Objective> best;
  std::vector<NodeIndex> tail(p.arc_count());
  for (NodeIndex i = 0; i < p.source_count(); ++i) {
    for (ArcIndex e = p.row_begin[i]; e < p.row_begin[i + 1]; ++e) tail[e] = i;
  }
  std::function<void(ArcIndex, Objective)> go = [&](ArcIndex e, Objective cost) {
    if (e == p.arc_count()) {
      for (NodeIndex i = 0; i < p.source_count(); ++i)
        if (shipped[i] != p.supply[i]) return;
      for (NodeIndex j = 0; j < p.sink_count(); ++j)
        if (received[j] != p.demand[j]) return;
      if (!best || cost < *best) best = cost;
      return;
    }
    const NodeIndex i = tail[e], j = p.arc_sink[e];
    const Quantity most = std::min({p.arc_capacity[e], p.supply[i] - shipped[i], p.demand[j] - received[j]});
    for (Quantity x = 0; x <= most; ++x) {
      shipped[i] += x;
      received[j] += x;
      go(e + 1, cost + static_cast<Objective>(x) * p.arc_cost[e]);
      shipped[i] -= x;
      received[j] -= x;
    }
  };
  go(0, 0);
  return best;
}

// Balanced, with `arc_percent` of the pairs as arcs. Capacities are uniform in [0, capacity_high], or never
// bind when `capacity_high` is nothing (the parallel solver's scope; no random draw is spent on them).
inline TransportationProblem random_problem(SeededRandom& random, NodeIndex sources, NodeIndex sinks,
                                            Quantity most_units, int arc_percent, Cost cost_low, Cost cost_high,
                                            std::optional<Quantity> capacity_high) {
  std::vector<Quantity> supply(sources), demand(sinks, 0);
  for (auto& s : supply) s = random.between(0, most_units);
  // Spread the same total over the sinks so that the problem is balanced.
  for (Quantity units = std::accumulate(supply.begin(), supply.end(), Quantity{0}); units > 0; --units) {
    ++demand[random.between(0, sinks - 1)];
  }
  std::vector<Arc> arcs;
  for (NodeIndex i = 0; i < sources; ++i) {
    for (NodeIndex j = 0; j < sinks; ++j) {
      if (random.between(1, 100) <= arc_percent) {
        const Quantity capacity = capacity_high ? random.between(0, *capacity_high) : kUnboundedCapacity;
        arcs.push_back({i, j, capacity, random.between(cost_low, cost_high)});
      }
    }
  }
  return make_transportation_problem(std::move(supply), std::move(demand), arcs);
}

inline TransportationProblem dense_assignment(SeededRandom& random, NodeIndex n, Cost cost_high) {
  std::vector<Arc> arcs;
  for (NodeIndex i = 0; i < n; ++i) {
    for (NodeIndex j = 0; j < n; ++j) arcs.push_back({i, j, 1, random.between(0, cost_high - 1)});
  }
  return make_transportation_problem(std::vector<Quantity>(n, 1), std::vector<Quantity>(n, 1), arcs);
}

}  // namespace ewx::testing
