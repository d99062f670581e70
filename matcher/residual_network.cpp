// The residual network of a flow with no binding capacities, and label-correcting shortest paths on it. See
// residual_network.hpp.
//
// The search is Bellman-Ford with a FIFO queue and Tarjan's subtree disassembly (Tarjan 1981), which
// Cherkassky and Goldberg's study of negative-cycle detection (1999) found among the most robust. It keeps the tree of
// the arcs that set each label. When a node's label falls, every label below it in that tree is too high by at least as
// much, so its descendants leave the tree and are not scanned until they are lowered again, instead of each passing its
// stale label on. And if the node whose scan lowered the label is itself among those descendants, the tree path from
// the lowered node to it, closed by the arc just relaxed, is a cycle of negative length (every tree arc is tight,
// d(child) = d(parent) + length): the search stops there and says so. The ladder auction asks this search whether an
// allocation is optimal (ladder_auction.cpp), and where it is not, plain FIFO Bellman-Ford spent its whole budget
// before giving up. Measured on an ewx-loadgen 100k x 10k batch (this machine, 3 runs each): a failing search now stops
// after 0.5 to 1.4 scans per node where it spent 8, one that settles takes 2.2 to 2.9 where it took 4 to 5, and the
// batch's ten proofs, residual networks included, took 150 to 164 ms in all against 193 to 206.
//
// The tree is kept as its preorder, threaded through every node in it (a circular list from the source, with
// each node's depth), so a subtree is the run of nodes after its root that are deeper than the root.
#include "matcher/residual_network.hpp"

#include <limits>

namespace ewx::detail {

ResidualNetwork residual_network(std::size_t nodes, const FlowArcs& arcs, std::span<const Quantity> flow) {
  return residual_network_of(nodes, [&](const auto& visit) {
    for (std::size_t e = 0; e < arcs.from.size(); ++e) visit(arcs.from[e], arcs.to[e], arcs.cost[e], flow[e]);
  });
}

Search settle_distances(const ResidualNetwork& network, std::uint32_t source, std::uint64_t scan_budget,
                        std::vector<Potential>& distance) {
  const auto nodes = static_cast<std::uint32_t>(network.begin.size() - 1);
  distance.assign(nodes, std::numeric_limits<Potential>::max());
  // The tree in preorder: after[v] and before[v] are v's neighbours in the thread, for nodes in the tree.
  std::vector<std::uint32_t> after(nodes), before(nodes), depth(nodes, 0);
  std::vector<std::uint8_t> in_tree(nodes, 0), queued(nodes, 0);
  // A node is in the queue at most once, so a ring of `nodes` places holds it.
  std::vector<std::uint32_t> queue(nodes);
  std::size_t front = 0, waiting = 0;
  const auto push = [&](std::uint32_t v) {
    queue[(front + waiting++) % nodes] = v;
    queued[v] = 1;
  };
  distance[source] = 0;
  in_tree[source] = 1;
  after[source] = before[source] = source;
  push(source);
  while (waiting > 0) {
    const std::uint32_t v = queue[front];
    front = (front + 1) % nodes;
    --waiting;
    queued[v] = 0;
    if (!in_tree[v]) continue;  // its label will fall again, and it is scanned then
    if (scan_budget-- == 0) return Search::over_budget;
    for (std::uint32_t a = network.begin[v]; a < network.begin[v + 1]; ++a) {
      const std::uint32_t w = network.head[a];
      const Potential through = distance[v] + network.length[a];
      if (through >= distance[w]) continue;
      // A path back to the source, or into the part of the tree below w, that is shorter than the tree's.
      if (w == source || w == v) return Search::negative_cycle;
      if (in_tree[w]) {
        std::uint32_t last = w;
        for (std::uint32_t u = after[w]; depth[u] > depth[w]; u = after[u]) {
          if (u == v) return Search::negative_cycle;
          in_tree[u] = 0;
          last = u;
        }
        after[before[w]] = after[last];
        before[after[last]] = before[w];
      }
      distance[w] = through;
      in_tree[w] = 1;
      depth[w] = depth[v] + 1;
      after[w] = after[v];
      before[w] = v;
      before[after[v]] = w;
      after[v] = w;
      if (!queued[w]) push(w);
    }
  }
  return Search::settled;
}

}  // namespace ewx::detail
