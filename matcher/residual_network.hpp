// The residual network of a flow whose arcs have no binding capacities, and shortest paths in it: what the
// condensed clearing needs for its prices (condensed_clearing.cpp) and the ladder auction for its proof of
// optimality (ladder_auction.cpp), kept in one place so the two read the same network the same way.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "matcher/transportation.hpp"

namespace ewx::detail {

// The arcs of a flow network as parallel arrays, as the condensed clearing lays them out for the simplex.
struct FlowArcs {
  std::vector<std::uint32_t> from;
  std::vector<std::uint32_t> to;
  std::vector<Cost> cost;

  void reserve(std::size_t arcs) {
    from.reserve(arcs);
    to.reserve(arcs);
    cost.reserve(arcs);
  }

  std::uint32_t add(std::uint32_t a, std::uint32_t b, Cost c) {
    from.push_back(a);
    to.push_back(b);
    cost.push_back(c);
    return static_cast<std::uint32_t>(from.size() - 1);
  }
};

// Residual arcs by tail (compressed rows): every arc forward, since no capacity binds, and backward, at minus
// its cost, where it carries flow.
struct ResidualNetwork {
  std::vector<std::uint32_t> begin;  // node v's arcs: [begin[v], begin[v + 1])
  std::vector<std::uint32_t> head;
  std::vector<Cost> length;
};

ResidualNetwork residual_network(std::size_t nodes, const FlowArcs& arcs, std::span<const Quantity> flow);

// The same from arcs that `each_arc(visit)` names, calling visit(from, to, cost, flow) for each, in the same
// order both times it is called: for a caller that can enumerate its arcs again more cheaply than it can
// store them (the ladder auction's proof, whose arcs are a few million values written once and read once).
template <class EachArc>
ResidualNetwork residual_network_of(std::size_t nodes, const EachArc& each_arc) {
  ResidualNetwork network;
  network.begin.assign(nodes + 1, 0);
  each_arc([&](std::uint32_t from, std::uint32_t to, Cost, Quantity flow) {
    ++network.begin[from + 1];
    if (flow > 0) ++network.begin[to + 1];
  });
  for (std::size_t v = 0; v < nodes; ++v) network.begin[v + 1] += network.begin[v];
  network.head.resize(network.begin.back());
  network.length.resize(network.begin.back());
  std::vector<std::uint32_t> next(network.begin.begin(), network.begin.end() - 1);
  each_arc([&](std::uint32_t from, std::uint32_t to, Cost cost, Quantity flow) {
    network.head[next[from]] = to;
    network.length[next[from]++] = cost;
    if (flow > 0) {
      network.head[next[to]] = from;
      network.length[next[to]++] = -cost;
    }
  });
  return network;
}

// How a label-correcting search ended.
enum class Search {
  settled,         // every distance from the source is final
  negative_cycle,  // the search met one, reachable from the source: no distances exist
  over_budget,     // neither, within the budget of node scans
};

// Shortest distances from `source` on the lengths themselves, negative ones included, by Bellman-Ford with a
// FIFO queue and Tarjan's subtree disassembly (residual_network.cpp). `distance` is final only when the
// search settled. Without a negative cycle, (nodes + 1) * nodes scans always settle it.
Search settle_distances(const ResidualNetwork& network, std::uint32_t source, std::uint64_t scan_budget,
                        std::vector<Potential>& distance);

}  // namespace ewx::detail
