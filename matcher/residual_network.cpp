// The residual network of a flow with no binding capacities, and label-correcting shortest paths on it. See
// residual_network.hpp. The search is Bellman-Ford with a FIFO queue: a node is scanned at most once per pass,
// and n - 1 passes settle every distance where no negative cycle is reachable, which bounds the scans.
#include "matcher/residual_network.hpp"

#include <deque>
#include <limits>

namespace ewx::detail {

ResidualNetwork residual_network(std::size_t nodes, const FlowArcs& arcs, std::span<const Quantity> flow) {
  ResidualNetwork network;
  network.begin.assign(nodes + 1, 0);
  for (std::size_t e = 0; e < arcs.from.size(); ++e) {
    ++network.begin[arcs.from[e] + 1];
    if (flow[e] > 0) ++network.begin[arcs.to[e] + 1];
  }
  for (std::size_t v = 0; v < nodes; ++v) network.begin[v + 1] += network.begin[v];
  network.head.resize(network.begin.back());
  network.length.resize(network.begin.back());
  std::vector<std::uint32_t> next(network.begin.begin(), network.begin.end() - 1);
  for (std::size_t e = 0; e < arcs.from.size(); ++e) {
    network.head[next[arcs.from[e]]] = arcs.to[e];
    network.length[next[arcs.from[e]]++] = arcs.cost[e];
    if (flow[e] > 0) {
      network.head[next[arcs.to[e]]] = arcs.from[e];
      network.length[next[arcs.to[e]]++] = -arcs.cost[e];
    }
  }
  return network;
}

bool settle_distances(const ResidualNetwork& network, std::uint32_t source, std::uint64_t scan_budget,
                      std::vector<Potential>& distance) {
  const std::size_t nodes = network.begin.size() - 1;
  distance.assign(nodes, std::numeric_limits<Potential>::max());
  std::vector<std::uint8_t> queued(nodes, 0);
  std::deque<std::uint32_t> queue{source};
  distance[source] = 0;
  queued[source] = 1;
  while (!queue.empty()) {
    if (scan_budget-- == 0) return false;
    const std::uint32_t v = queue.front();
    queue.pop_front();
    queued[v] = 0;
    for (std::uint32_t a = network.begin[v]; a < network.begin[v + 1]; ++a) {
      const std::uint32_t w = network.head[a];
      if (distance[v] + network.length[a] < distance[w]) {
        distance[w] = distance[v] + network.length[a];
        if (!queued[w]) queued[w] = 1, queue.push_back(w);
      }
    }
  }
  return true;
}

}  // namespace ewx::detail
