// ewx-gpu-bench: the GPU solver's checks and timings, run by scripts/gpu-bench on a machine with a GPU.
//
//   ewx-gpu-bench check [--small]        every instance on the GPU, on the CPU system of the same code, and by
//                                        the CPU solver: the same optimum, certified, and the same flows on
//                                        both systems; exit 1 on any difference (--small: the quick set, for
//                                        compute-sanitizer)
//   ewx-gpu-bench time [--repeats R] [--npy DIR] [--cpu-arcs N] [--huge] [--only NAME] [--label TEXT]
//                                        the instances (those whose name contains one of NAME's comma-separated
//                                        parts), two markdown tables on stdout, and where each solve's time went on
//                                        stderr; TEXT is added to every instance's name (scripts/gpu-bench's second
//                                        build, with lists of 8 arcs, says so in its rows)
//
// It needs only the matcher and the kernels (standard C++, Thrust, the CUDA runtime and LEMON's headers,
// which scripts/gpu-bench carries), because the GPU machines have none of ewx's Debian libraries. Without a
// GPU, `check` runs the CPU system alone and says so.
//
// Timings: one warm-up solve, then R timed ones; the median of the CUDA-event times (the whole solve on the
// device, uploads and downloads included) and of the wall-clock times. The CPU solver runs once where the
// problem has at most --cpu-arcs arcs. With --npy, the assignment matrices are also written there for the
// script's scipy peer.
//
// Market batches get a second table: the GPU's whole path (building the bipartite problem on the host, then
// the solve) beside the condensed network's clearing on this machine's CPU cores (condensed_clearing.hpp),
// which is what ewxd runs. The two must reach the same surplus. That comparison decides what --solver auto
// takes (tools/solver_choice.hpp). The 500k x 20k batch's bipartite problem has about 0.9 billion arcs (some 25 GB on
// the host, about 27 GB of working set on the device); it is built only with --huge, and the condensed
// clearing runs on it either way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kernels/device_probe.hpp"
#include "kernels/parallel_auction.hpp"
#include "matcher/batch_builder.hpp"
#include "matcher/certificate.hpp"
#include "matcher/condensed_clearing.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/market_generator.hpp"
#include "tools/npy.hpp"

namespace {

using namespace ewx;
using kernels::ParallelSystem;

struct Instance {
  std::string name;
  TransportationProblem problem;  // empty for a market batch whose bipartite problem was not built
  std::optional<Batch> batch;     // market batches
  double build_ms = 0;            // building the bipartite problem from the batch, on the host
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
std::string milliseconds(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, ms < 1000 ? "%.1f ms" : "%.2f s", ms < 1000 ? ms : ms / 1000);
  return text;
}

// Dense n x n assignment, costs uniform in [0, 10n): the same matrix as `ewx-gen assignment --n n --seed s`.
Instance assignment(NodeIndex n, std::uint64_t seed, const std::string& npy_dir) {
  SeededRandom random(seed);
  std::vector<Quantity> ones(n, 1);
  TransportationProblem p;
  p.supply = ones;
  p.demand = ones;
  p.row_begin.resize(n + 1);
  p.arc_sink.resize(std::uint64_t{n} * n);
  p.arc_cost.resize(std::uint64_t{n} * n);
  p.arc_capacity.assign(std::uint64_t{n} * n, 1);
  std::FILE* npy = nullptr;
  if (!npy_dir.empty()) {
    npy = std::fopen((npy_dir + "/assignment-" + std::to_string(n) + ".npy").c_str(), "wb");
    if (npy) tools::write_npy_header(npy, n);
  }
  for (NodeIndex i = 0; i < n; ++i) {
    p.row_begin[i] = std::uint64_t{i} * n;
    for (NodeIndex j = 0; j < n; ++j) {
      p.arc_sink[std::uint64_t{i} * n + j] = j;
      p.arc_cost[std::uint64_t{i} * n + j] = random.between(0, 10 * std::int64_t{n} - 1);
    }
    if (npy) std::fwrite(p.arc_cost.data() + std::uint64_t{i} * n, sizeof(Cost), n, npy);
  }
  p.row_begin[n] = std::uint64_t{n} * n;
  if (npy) std::fclose(npy);
  return {"dense assignment n = " + std::to_string(n), std::move(p), std::nullopt};
}

Instance market(std::uint64_t orders, std::uint64_t offers, std::uint64_t seed, bool bipartite = true) {
  MarketShape shape;
  shape.orders = orders;
  shape.offers = offers;
  shape.seed = seed;
  Instance instance{"market batch " + std::to_string(orders) + " x " + std::to_string(offers),
                    {},
                    generate_market(shape, default_topology())};
  if (bipartite) {
    const auto start = std::chrono::steady_clock::now();
    instance.problem = build_market_graph(*instance.batch, default_topology()).problem;
    instance.build_ms = ms_since(start);
  }
  return instance;
}

Instance random_transportation(SeededRandom& random, NodeIndex sources, NodeIndex sinks) {
  std::vector<Quantity> supply(sources), demand(sinks, 0);
  Quantity total = 0;
  for (auto& s : supply) total += s = random.between(0, 50);
  for (; total > 0; --total) ++demand[random.between(0, sinks - 1)];
  std::vector<Arc> arcs;
  for (NodeIndex i = 0; i < sources; ++i)
    for (NodeIndex j = 0; j < sinks; ++j)
      if (random.between(1, 100) <= 60) arcs.push_back({i, j, kUnboundedCapacity, random.between(-1000, 1000)});
  return {"random " + std::to_string(sources) + " x " + std::to_string(sinks),
          make_transportation_problem(std::move(supply), std::move(demand), arcs), std::nullopt};
}

int check(bool small) {
  const kernels::DeviceProbe probe = kernels::probe_device();
  const bool gpu = probe.usable && kernels::built_with_cuda();
  std::printf("GPU: %s\n", gpu ? probe.name.c_str() : ("none (" + probe.reason + "): the CPU system only").c_str());
  std::vector<Instance> instances;
  SeededRandom random(2026);
  for (int k = 0; k < (small ? 4 : 20); ++k)
    instances.push_back(random_transportation(random, static_cast<NodeIndex>(random.between(1, 80)),
                                              static_cast<NodeIndex>(random.between(1, 40))));
  instances.push_back(assignment(small ? 64 : 512, 1, ""));
  instances.push_back(market(small ? 300 : 5000, small ? 30 : 500, 7));
  int failures = 0;
  for (const Instance& instance : instances) {
    const TransportationProblem& p = instance.problem;
    const TransportationSolution oracle = solve_on_cpu(p);
    const TransportationSolution host = kernels::solve_parallel(p, ParallelSystem::host);
    std::string verdict = "ok";
    const auto fail = [&](const std::string& why) {
      if (verdict == "ok") verdict = why;
    };
    if (host.status != oracle.status) fail("CPU system status differs from the CPU solver's");
    if (oracle.status == SolveStatus::optimal) {
      if (host.objective != oracle.objective) fail("CPU system optimum differs");
      if (!check_certificate(p, host).optimal) fail("CPU system certificate fails");
    }
    if (gpu) {
      const TransportationSolution device = kernels::solve_parallel(p, ParallelSystem::cuda);
      if (device.status != oracle.status) fail("GPU status differs: " + device.detail);
      if (oracle.status == SolveStatus::optimal) {
        if (device.objective != oracle.objective) fail("GPU optimum differs");
        if (!check_certificate(p, device).optimal) fail("GPU certificate fails");
        if (device.flows != host.flows || device.source_potential != host.source_potential ||
            device.sink_potential != host.sink_potential)
          fail("GPU flows or potentials differ from the CPU system's");
      }
    }
    if (verdict != "ok") ++failures;
    std::printf("%-32s %10llu arcs  %-9s %s\n", instance.name.c_str(), static_cast<unsigned long long>(p.arc_count()),
                to_string(oracle.status), verdict.c_str());
  }
  std::printf("%s: %d of %zu instances differ\n", failures ? "FAILED" : "passed", failures, instances.size());
  return failures ? 1 : 0;
}

// One market batch's row of the second table.
struct MarketRow {
  std::string name;
  std::uint64_t bipartite_arcs = 0;
  double build_ms = 0;
  std::string gpu = "not built";  // the solve's median, or why there is none
  double gpu_path_ms = 0;         // build + solve
  std::uint64_t condensed_arcs = 0;
  std::string condensed_engine;
  double condensed_ms = 0;
  std::string same = "-";
};

int time(int repeats, const std::string& npy_dir, std::uint64_t cpu_arcs, bool huge, const std::string& only,
         const std::string& label) {
  // `only`: comma-separated parts of instance names; empty for all.
  const auto chosen = [&](const std::string& name) {
    if (only.empty()) return true;
    for (std::size_t at = 0; at <= only.size();) {
      const std::size_t comma = std::min(only.find(',', at), only.size());
      if (name.find(only.substr(at, comma - at)) != std::string::npos) return true;
      at = comma + 1;
    }
    return false;
  };
  const kernels::DeviceProbe probe = kernels::probe_device();
  if (!probe.usable || !kernels::built_with_cuda()) {
    std::fprintf(stderr, "ewx-gpu-bench time needs a GPU: %s\n", probe.reason.c_str());
    return 2;
  }
  std::printf("GPU: %s, compute capability %d.%d; %d timed solves after one warm-up; short lists of %u arcs\n\n",
              probe.name.c_str(), probe.compute_capability / 10, probe.compute_capability % 10, repeats,
              kernels::short_list_arcs());
  std::printf(
      "| instance | arcs | GPU, CUDA events (median) | GPU, wall (median) | rounds | CPU solver | same optimum |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---|\n");
  std::fflush(stdout);

  // The GPU's solves of one problem; returns the solution of the last, with the medians in `row`.
  const auto run = [&](const Instance& instance, MarketRow* row) {
    const TransportationProblem& p = instance.problem;
    const std::string name = instance.name + label;
    std::vector<double> events, wall;
    kernels::ParallelStatistics stats;
    TransportationSolution device = kernels::solve_parallel(p, ParallelSystem::cuda, &stats);  // the warm-up
    for (int k = 0; k < repeats && device.status == SolveStatus::optimal; ++k) {
      const auto start = std::chrono::steady_clock::now();
      device = kernels::solve_parallel(p, ParallelSystem::cuda, &stats);
      wall.push_back(ms_since(start));
      events.push_back(stats.device_ms);
    }
    std::fprintf(stderr,
                 "%s: %llu phases (epsilon widened %llu times), %llu rounds, %llu bids (%llu whole-row scans in "
                 "rounds; %llu in tails, %llu of them whole-row scans), %llu dual passes; last solve: setup %.1f ms, "
                 "rounds %.1f ms, tails %.1f ms, duals %.1f ms\n",
                 name.c_str(), static_cast<unsigned long long>(stats.phases),
                 static_cast<unsigned long long>(stats.epsilon_widenings),
                 static_cast<unsigned long long>(stats.rounds), static_cast<unsigned long long>(stats.bids),
                 static_cast<unsigned long long>(stats.round_scans), static_cast<unsigned long long>(stats.tail_bids),
                 static_cast<unsigned long long>(stats.tail_scans),
                 static_cast<unsigned long long>(stats.potential_passes), stats.setup_ms, stats.rounds_ms,
                 stats.tail_ms, stats.duals_ms);
    std::string cpu = "not run (over " + std::to_string(cpu_arcs) + " arcs)", same = "-";
    if (device.status != SolveStatus::optimal) same = "GPU: " + device.detail;
    if (p.arc_count() <= cpu_arcs) {
      const auto start = std::chrono::steady_clock::now();
      const TransportationSolution oracle = solve_on_cpu(p);
      cpu = milliseconds(ms_since(start));
      if (device.status == SolveStatus::optimal)
        same = device.objective == oracle.objective ? "yes (" + to_string(oracle.objective) + ")" : "NO";
    } else if (device.status == SolveStatus::optimal) {
      same = check_certificate(p, device).optimal ? "certified" : "CERTIFICATE FAILS";
    }
    std::printf("| %s | %llu | %s | %s | %llu | %s | %s |\n", name.c_str(),
                static_cast<unsigned long long>(p.arc_count()), milliseconds(median(events)).c_str(),
                milliseconds(median(wall)).c_str(), static_cast<unsigned long long>(stats.rounds), cpu.c_str(),
                same.c_str());
    std::fflush(stdout);
    if (row) {
      row->bipartite_arcs = p.arc_count();
      row->build_ms = instance.build_ms;
      row->gpu = device.status == SolveStatus::optimal ? milliseconds(median(events)) : "refused: " + device.detail;
      row->gpu_path_ms = instance.build_ms + median(events);
    }
    return device;
  };

  // The condensed clearing of the same batch on the CPU, as ewxd runs it without a GPU.
  const auto condensed = [&](const Instance& instance, MarketRow& row) {
    std::vector<double> wall;
    CondensedStatistics stats;
    std::optional<ClearingResult> result;
    for (int k = 0; k <= repeats; ++k) {
      const auto start = std::chrono::steady_clock::now();
      result = clear_batch_condensed(*instance.batch, default_topology(), {}, &stats);
      if (k > 0) wall.push_back(ms_since(start));
    }
    row.condensed_arcs = stats.arcs;
    row.condensed_engine = to_string(stats.engine);
    row.condensed_ms = median(wall);
    std::fprintf(stderr, "%s: condensed network %llu arcs, %s, %s\n", row.name.c_str(),
                 static_cast<unsigned long long>(stats.arcs), row.condensed_engine.c_str(),
                 milliseconds(row.condensed_ms).c_str());
    return result;
  };

  for (const NodeIndex n : {4096u, 8192u, 16384u})
    if (chosen("dense assignment n = " + std::to_string(n))) run(assignment(n, 1, n <= 8192 ? npy_dir : ""), nullptr);

  std::vector<MarketRow> rows;
  const struct {
    std::uint64_t orders, offers;
    bool bipartite;
  } batches[] = {{50'000, 5'000, true}, {100'000, 10'000, true}, {500'000, 20'000, huge}};
  for (const auto& shape : batches) {
    if (!chosen("market batch " + std::to_string(shape.orders) + " x " + std::to_string(shape.offers))) continue;
    const Instance instance = market(shape.orders, shape.offers, 1, shape.bipartite);
    MarketRow row;
    row.name = instance.name + label;
    std::optional<TransportationSolution> device;
    if (shape.bipartite) device = run(instance, &row);
    const std::optional<ClearingResult> cleared = condensed(instance, row);
    if (!cleared || cleared->status != SolveStatus::optimal) {
      row.same = "condensed: " + (cleared ? cleared->detail : std::string("not cleared"));
    } else if (device && device->status == SolveStatus::optimal) {
      row.same =
          -device->objective == cleared->total_surplus ? "yes (" + to_string(cleared->total_surplus) + ")" : "NO";
    } else {
      row.same = "surplus " + to_string(cleared->total_surplus);
    }
    rows.push_back(row);
  }

  std::printf(
      "\n| market batch | bipartite arcs | build them (host) | GPU solve | GPU path | condensed arcs | "
      "condensed clearing (%u CPU threads) | same surplus |\n",
      std::thread::hardware_concurrency());
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const MarketRow& row : rows) {
    const bool built = row.bipartite_arcs > 0;
    std::printf("| %s | %s | %s | %s | %s | %llu | %s (%s) | %s |\n", row.name.c_str(),
                built ? std::to_string(row.bipartite_arcs).c_str() : "not built",
                built ? milliseconds(row.build_ms).c_str() : "-", row.gpu.c_str(),
                built ? milliseconds(row.gpu_path_ms).c_str() : "-",
                static_cast<unsigned long long>(row.condensed_arcs), milliseconds(row.condensed_ms).c_str(),
                row.condensed_engine.c_str(), row.same.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  bool small = false;
  int repeats = 5;
  std::string npy_dir;
  std::uint64_t cpu_arcs = 70'000'000;
  bool huge = false;
  std::string only, label;
  for (int k = 2; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--small") {
      small = true;
    } else if (arg == "--repeats" && k + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++k]));
    } else if (arg == "--npy" && k + 1 < argc) {
      npy_dir = argv[++k];
    } else if (arg == "--only" && k + 1 < argc) {
      only = argv[++k];
    } else if (arg == "--label" && k + 1 < argc) {
      label = argv[++k];
    } else if (arg == "--huge") {
      huge = true;
    } else if (arg == "--cpu-arcs" && k + 1 < argc) {
      cpu_arcs = std::strtoull(argv[++k], nullptr, 10);
    } else {
      std::fprintf(stderr, "ewx-gpu-bench: unknown argument '%s'\n", arg.c_str());
      return 2;
    }
  }
  if (command == "check") return check(small);
  if (command == "time") return time(repeats, npy_dir, cpu_arcs, huge, only, label);
  std::fprintf(
      stderr,
      "usage: ewx-gpu-bench check [--small] | time [--repeats R] [--npy DIR] [--cpu-arcs N] [--huge] [--only NAME] "
      "[--label TEXT]\n");
  return 2;
}
