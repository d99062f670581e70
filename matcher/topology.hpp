// The network the market runs over: national hubs (where demand originates), data-center clusters (where
// capacity sits), and for each hub-cluster pair a latency and a per-unit transfer charge.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "matcher/market.hpp"

namespace ewx {

struct Hub {
  std::string key;   // short identifier used in files and on the wire, e.g. "yrd"
  std::string name;  // e.g. "Yangtze River Delta"
};

struct Cluster {
  std::string key;   // e.g. "wuhu"
  std::string name;  // e.g. "Wuhu"
  HubIndex hub = 0;  // the national hub it belongs to
};

struct Link {
  std::int32_t latency_ms = 0;
  Fen transfer_charge = 0;  // fen per unit-hour
};

class Topology {
 public:
  std::vector<Hub> hubs;
  std::vector<Cluster> clusters;

  // The link from a hub to a cluster, or nothing when the pair is not connected.
  const std::optional<Link>& link(HubIndex hub, ClusterIndex cluster) const {
    return links_[static_cast<std::size_t>(hub) * clusters.size() + cluster];
  }
  void set_link(HubIndex hub, ClusterIndex cluster, Link link);

  std::optional<HubIndex> find_hub(std::string_view key) const;
  std::optional<ClusterIndex> find_cluster(std::string_view key) const;

  // Sizes the link table; call after hubs and clusters are final.
  void reset_links() { links_.assign(hubs.size() * clusters.size(), std::nullopt); }

 private:
  std::vector<std::optional<Link>> links_;
};

// The built-in topology of the East Data, West Computing plan: 8 national hubs, 10 clusters, latencies
// of 3-34 ms and transfer charges growing with distance. Its text form is default_topology_text().
const Topology& default_topology();
std::string_view default_topology_text();

// Parses a topology file (format in docs/formats.md). Throws InputError naming the line.
Topology parse_topology(std::string_view text, const std::string& name);
std::string format_topology(const Topology& topology);

}  // namespace ewx
