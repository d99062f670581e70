// Successive shortest paths: the exact engine under ewx's CPU solver.
//
// The algorithm. Keep node potentials (alpha for sources, beta for sinks) such that every arc of the
// residual graph has a non-negative reduced cost r = c - alpha + beta. Take a source with supply left, run
// Dijkstra on reduced costs from it until the first sink with demand left is *popped*, send as much as the
// path allows (the source's remaining supply, the sink's remaining demand, the smallest residual capacity on
// the way) and raise the potential of every node popped before that sink by how much closer it was:
//
//     pi(v) += d(t) - d(v)          for every settled v, where t is the sink reached.
//
// Nodes not popped keep their potential; the update is the one Jonker and Volgenant use for the assignment
// problem, and it keeps every residual reduced cost non-negative while making the path just used tight
// (Ahuja, Magnanti and Orlin, "Network Flows", sec. 9.7). When no source has supply left, the flow is
// complete and the potentials certify its optimality.
//
// Why this algorithm. It is exact in integers, simple enough to read in one sitting, and it stops each
// search as soon as it finds a way out, so on market batches (where most orders find an open offer one or
// two steps away) a search touches a few hundred arcs. It is also deliberately a different algorithm from
// the GPU's, so that the two can check each other. Worst case it is O(U * m log n) for total supply U;
// cpu_solver.cpp keeps m small by running it on a candidate subgraph.
//
// The bipartite structure is used directly: a source's residual arcs are its row of the CSR (forward arcs
// with capacity left); a sink's residual arcs are the reverse arcs of the arcs carrying flow into it, kept
// in a short per-sink list ("carriers") because a sink is usually fed by few of the many arcs into it.
//
// Determinism: sources are served in a fixed order (see service_order), the heap breaks ties by node index,
// and rows are scanned in CSR order, so the same problem always gives the same flow.
#include "matcher/successive_shortest_paths.hpp"

#include <algorithm>
#include <limits>

namespace ewx::detail {
namespace {

// A 4-ary min-heap of nodes keyed by tentative distance, with the positions needed for decrease-key.
// Ties go to the lower node index so that the search order (and with it the solution) is reproducible.
class NodeHeap {
 public:
  explicit NodeHeap(std::size_t nodes) : position_(nodes, kAbsent) {}

  bool empty() const { return entries_.empty(); }
  bool contains(NodeIndex node) const { return position_[node] != kAbsent; }

  void push_or_decrease(NodeIndex node, Potential key) {
    std::size_t at = position_[node];
    if (at == kAbsent) {
      at = entries_.size();
      entries_.push_back({key, node});
    } else {
      entries_[at].key = key;
    }
    sift_up(at);
  }

  NodeIndex pop() {
    const NodeIndex top = entries_.front().node;
    position_[top] = kAbsent;
    const Entry last = entries_.back();
    entries_.pop_back();
    if (!entries_.empty()) {
      entries_.front() = last;
      position_[last.node] = 0;
      sift_down(0);
    }
    return top;
  }

  void clear() {
    for (const Entry& entry : entries_) position_[entry.node] = kAbsent;
    entries_.clear();
  }

 private:
  struct Entry {
    Potential key;
    NodeIndex node;
    bool before(const Entry& other) const { return key < other.key || (key == other.key && node < other.node); }
  };
  static constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();

  void place(std::size_t at, const Entry& entry) {
    entries_[at] = entry;
    position_[entry.node] = at;
  }
  void sift_up(std::size_t at) {
    const Entry moving = entries_[at];
    while (at > 0) {
      const std::size_t parent = (at - 1) / 4;
      if (!moving.before(entries_[parent])) break;
      place(at, entries_[parent]);
      at = parent;
    }
    place(at, moving);
  }
  void sift_down(std::size_t at) {
    const Entry moving = entries_[at];
    const std::size_t size = entries_.size();
    for (;;) {
      const std::size_t first = 4 * at + 1;
      if (first >= size) break;
      std::size_t best = first;
      const std::size_t last = std::min(first + 4, size);
      for (std::size_t child = first + 1; child < last; ++child) {
        if (entries_[child].before(entries_[best])) best = child;
      }
      if (!entries_[best].before(moving)) break;
      place(at, entries_[best]);
      at = best;
    }
    place(at, moving);
  }

  std::vector<Entry> entries_;
  std::vector<std::size_t> position_;
};

// An arc carrying flow into a sink, seen from the sink: the way back to its source.
struct Carrier {
  ArcIndex arc;
  NodeIndex source;
};

class Engine {
 public:
  Engine(const TransportationProblem& problem, std::vector<Quantity>& flow, std::vector<Potential>& alpha,
         std::vector<Potential>& beta, EngineStatistics& stats)
      : problem_(problem),
        sources_(problem.source_count()),
        flow_(flow),
        stats_(stats),
        potential_(sources_ + problem.sink_count()),
        supply_left_(problem.supply),
        demand_left_(problem.demand),
        carriers_(problem.sink_count()),
        distance_(potential_.size()),
        reached_in_(potential_.size(), 0),
        pred_arc_(potential_.size()),
        pred_node_(potential_.size()),
        heap_(potential_.size()),
        alpha_out_(alpha),
        beta_out_(beta) {
    std::copy(alpha.begin(), alpha.end(), potential_.begin());
    std::copy(beta.begin(), beta.end(), potential_.begin() + sources_);
    for (NodeIndex i = 0; i < sources_; ++i) {
      for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
        if (flow_[e] == 0) continue;
        supply_left_[i] -= flow_[e];
        demand_left_[problem.arc_sink[e]] -= flow_[e];
        carriers_[problem.arc_sink[e]].push_back({e, i});
      }
    }
  }

  SolveStatus run() {
    for (const NodeIndex source : service_order()) {
      ship_along_tight_arcs(source);
      while (supply_left_[source] > 0) {
        const NodeIndex sink_node = search_from(source);
        if (sink_node == kNone) return SolveStatus::infeasible;
        raise_potentials(sink_node);
        augment(source, sink_node);
      }
    }
    std::copy(potential_.begin(), potential_.begin() + sources_, alpha_out_.begin());
    std::copy(potential_.begin() + sources_, potential_.end(), beta_out_.begin());
    return SolveStatus::optimal;
  }

 private:
  static constexpr NodeIndex kNone = std::numeric_limits<NodeIndex>::max();

  bool is_sink(NodeIndex node) const { return node >= sources_; }

  // Sources with supply left, those with the most to gain first (lowest potential, i.e. cheapest reduced
  // row), slack sources last. High-value sources then find open capacity early, and low-value ones come
  // when their search radius (what they stand to gain) is small, which keeps every search local.
  std::vector<NodeIndex> service_order() const {
    std::vector<NodeIndex> order;
    for (NodeIndex i = 0; i < sources_; ++i) {
      if (supply_left_[i] > 0) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](NodeIndex a, NodeIndex b) {
      const bool slack_a = problem_.is_slack_source(a), slack_b = problem_.is_slack_source(b);
      if (slack_a != slack_b) return slack_b;
      return potential_[a] < potential_[b];
    });
    return order;
  }

  void reach(NodeIndex node, Potential distance, ArcIndex arc, NodeIndex from) {
    if (reached_in_[node] == search_) {
      if (distance >= distance_[node] || !heap_.contains(node)) return;
    }
    reached_in_[node] = search_;
    distance_[node] = distance;
    pred_arc_[node] = arc;
    pred_node_[node] = from;
    heap_.push_or_decrease(node, distance);
  }

  // Dijkstra from `source` on reduced costs; returns the first sink with demand left to be popped.
  NodeIndex search_from(NodeIndex source) {
    ++search_;
    settled_.clear();
    heap_.clear();
    reach(source, 0, 0, kNone);
    while (!heap_.empty()) {
      const NodeIndex node = heap_.pop();
      const Potential here = distance_[node];
      ++stats_.nodes_settled;
      if (is_sink(node)) {
        const NodeIndex sink = node - sources_;
        if (demand_left_[sink] > 0) return node;
        settled_.push_back(node);
        for (const Carrier& carrier : carriers_[sink]) {
          // Reverse arc: reduced cost is -(c - alpha + beta), non-negative because the arc is tight.
          const Potential step = potential_[carrier.source] - potential_[node] - cost(carrier.arc);
          reach(carrier.source, here + step, carrier.arc, node);
        }
        stats_.arcs_scanned += carriers_[sink].size();
      } else {
        settled_.push_back(node);
        const Potential offset = here - potential_[node];
        const ArcIndex end = problem_.row_begin[node + 1];
        for (ArcIndex e = problem_.row_begin[node]; e < end; ++e) {
          if (flow_[e] >= problem_.arc_capacity[e]) continue;
          const NodeIndex sink_node = sources_ + problem_.arc_sink[e];
          reach(sink_node, offset + cost(e) + potential_[sink_node], e, node);
        }
        stats_.arcs_scanned += end - problem_.row_begin[node];
      }
    }
    return kNone;
  }

  // A tight arc (reduced cost 0) to a sink with demand left is a shortest path on its own, and Dijkstra
  // would raise no potential for it (every node it could settle first is also at distance 0). Shipping
  // along such arcs directly saves a search each; for a slack source reaching thousands of sinks it saves
  // thousands.
  void ship_along_tight_arcs(NodeIndex source) {
    const ArcIndex end = problem_.row_begin[source + 1];
    for (ArcIndex e = problem_.row_begin[source]; e < end && supply_left_[source] > 0; ++e) {
      const NodeIndex sink = problem_.arc_sink[e];
      if (demand_left_[sink] == 0 || flow_[e] >= problem_.arc_capacity[e]) continue;
      if (cost(e) - potential_[source] + potential_[sources_ + sink] != 0) continue;
      const Quantity amount = std::min({supply_left_[source], demand_left_[sink], problem_.arc_capacity[e] - flow_[e]});
      if (flow_[e] == 0) carriers_[sink].push_back({e, source});
      flow_[e] += amount;
      supply_left_[source] -= amount;
      demand_left_[sink] -= amount;
      ++stats_.augmentations;
    }
    stats_.arcs_scanned += end - problem_.row_begin[source];
  }

  void raise_potentials(NodeIndex target) {
    const Potential reach_distance = distance_[target];
    for (const NodeIndex node : settled_) potential_[node] += reach_distance - distance_[node];
  }

  void augment(NodeIndex source, NodeIndex target) {
    Quantity amount = std::min(supply_left_[source], demand_left_[target - sources_]);
    for (NodeIndex node = target; node != source; node = pred_node_[node]) {
      const ArcIndex e = pred_arc_[node];
      amount = std::min(amount, is_sink(node) ? problem_.arc_capacity[e] - flow_[e] : flow_[e]);
    }
    for (NodeIndex node = target; node != source; node = pred_node_[node]) {
      const ArcIndex e = pred_arc_[node];
      if (is_sink(node)) {
        if (flow_[e] == 0) carriers_[node - sources_].push_back({e, pred_node_[node]});
        flow_[e] += amount;
      } else {
        flow_[e] -= amount;
        if (flow_[e] == 0) drop_carrier(pred_node_[node] - sources_, e);
      }
    }
    supply_left_[source] -= amount;
    demand_left_[target - sources_] -= amount;
    ++stats_.augmentations;
  }

  void drop_carrier(NodeIndex sink, ArcIndex arc) {
    auto& list = carriers_[sink];
    const auto it = std::find_if(list.begin(), list.end(), [arc](const Carrier& c) { return c.arc == arc; });
    *it = list.back();
    list.pop_back();
  }

  Cost cost(ArcIndex e) const { return problem_.arc_cost[e]; }

  const TransportationProblem& problem_;
  const NodeIndex sources_;
  std::vector<Quantity>& flow_;
  EngineStatistics& stats_;
  std::vector<Potential> potential_;  // sources first, then sinks
  std::vector<Quantity> supply_left_;
  std::vector<Quantity> demand_left_;
  std::vector<std::vector<Carrier>> carriers_;

  // Search state, reused across searches; reached_in_ tells which search last wrote a node's entries.
  std::vector<Potential> distance_;
  std::vector<std::uint64_t> reached_in_;
  std::vector<ArcIndex> pred_arc_;
  std::vector<NodeIndex> pred_node_;
  std::vector<NodeIndex> settled_;
  NodeHeap heap_;
  std::uint64_t search_ = 0;

  std::vector<Potential>& alpha_out_;
  std::vector<Potential>& beta_out_;
};

}  // namespace

SolveStatus run_successive_shortest_paths(const TransportationProblem& problem, std::vector<Quantity>& flow,
                                          std::vector<Potential>& source_potential,
                                          std::vector<Potential>& sink_potential, EngineStatistics& stats) {
  Engine engine(problem, flow, source_potential, sink_potential, stats);
  return engine.run();
}

}  // namespace ewx::detail
