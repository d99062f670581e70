// ewx-gen: writes test and benchmark instances.
//
//   ewx-gen market --orders 50000 --offers 5000 --seed 7 --batch B.batch --dimacs B.min
//   ewx-gen assignment --n 4000 --seed 1 --dimacs A.asn --npy A.npy
//
// A market batch is the realistic east-west market of market_generator.cpp, written in ewx's batch format
// and/or as the equivalent DIMACS `p min` transportation problem (with the batch's two slack nodes, so the
// DIMACS optimum is minus the batch's maximum surplus). A dense assignment has integer costs uniform in
// [0, 10n) (or --max-cost), written as DIMACS `p asn` and/or as a NumPy .npy matrix for peers in Python.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>

#include "matcher/batch_builder.hpp"
#include "matcher/batch_file.hpp"
#include "matcher/dimacs.hpp"
#include "matcher/market_generator.hpp"
#include "tools/npy.hpp"
#include "tools/read_file.hpp"

namespace {

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

FilePtr open_for_writing(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) throw std::runtime_error("cannot open '" + path + "' for writing");
  return file;
}

void write_market(const ewx::MarketShape& shape, const std::string& topology_path, const std::string& batch_path,
                  const std::string& dimacs_path) {
  const ewx::Topology topology = topology_path.empty()
                                     ? ewx::default_topology()
                                     : ewx::parse_topology(ewx::tools::read_whole_file(topology_path), topology_path);
  const ewx::Batch batch = ewx::generate_market(shape, topology);
  if (!batch_path.empty()) {
    std::ofstream out(batch_path);
    if (!out) throw std::runtime_error("cannot open '" + batch_path + "' for writing");
    ewx::write_batch(out, batch, topology);
  }
  if (!dimacs_path.empty()) {
    const ewx::MarketGraph graph = ewx::build_market_graph(batch, topology);
    const FilePtr out = open_for_writing(dimacs_path);
    ewx::write_dimacs_min(out.get(), graph.problem,
                          "ewx market batch: " + std::to_string(shape.orders) + " orders, " +
                              std::to_string(shape.offers) + " offers, seed " + std::to_string(shape.seed) +
                              "; last source = unsold, last sink = unfilled; optimum = -(maximum surplus)");
    spdlog::info("market batch: {} orders, {} offers, {} trading arcs", shape.orders, shape.offers,
                 graph.trade_count());
  }
}

void write_assignment(std::uint64_t n, std::int64_t max_cost, std::uint64_t seed, const std::string& dimacs_path,
                      const std::string& npy_path) {
  if (dimacs_path.empty() && npy_path.empty()) throw std::runtime_error("nothing to write: give --dimacs and/or --npy");
  FilePtr dimacs(nullptr, &std::fclose);
  FilePtr npy(nullptr, &std::fclose);
  std::unique_ptr<ewx::FastWriter> text;
  if (!dimacs_path.empty()) {
    dimacs = open_for_writing(dimacs_path);
    text = std::make_unique<ewx::FastWriter>(dimacs.get());
    text->text("c dense assignment, costs uniform in [0, ")
        .number(max_cost)
        .text("), seed ")
        .number(static_cast<std::int64_t>(seed))
        .put('\n');
    text->text("p asn ")
        .number(static_cast<std::int64_t>(2 * n))
        .put(' ')
        .number(static_cast<std::int64_t>(n * n))
        .put('\n');
    for (std::uint64_t i = 1; i <= n; ++i) text->text("n ").number(static_cast<std::int64_t>(i)).put('\n');
  }
  if (!npy_path.empty()) {
    npy = open_for_writing(npy_path);
    ewx::tools::write_npy_header(npy.get(), n);
  }
  ewx::SeededRandom random(seed);
  std::vector<std::int64_t> row(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint64_t j = 0; j < n; ++j) row[j] = random.between(0, max_cost - 1);
    if (text) {
      for (std::uint64_t j = 0; j < n; ++j) {
        text->text("a ").number(static_cast<std::int64_t>(i + 1)).put(' ').number(static_cast<std::int64_t>(n + j + 1));
        text->put(' ').number(row[j]).put('\n');
      }
    }
    if (npy) std::fwrite(row.data(), sizeof(std::int64_t), n, npy.get());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ewx-gen: write realistic market batches and dense assignment instances"};
  app.require_subcommand(1);

  ewx::MarketShape shape;
  std::string topology_path, batch_path, market_dimacs;
  CLI::App* market = app.add_subcommand("market", "an east-west market batch");
  market->add_option("--orders", shape.orders, "buy orders (eastern enterprises)")->check(CLI::Range(0, 10'000'000));
  market->add_option("--offers", shape.offers, "sell offers (western and central providers)")
      ->check(CLI::Range(0, 10'000'000));
  market->add_option("--seed", shape.seed, "random seed; the same seed gives the same batch");
  market->add_option("--batch-number", shape.batch_number, "batch number written in the file");
  market->add_option("--topology", topology_path, "topology file (default: the built-in one)");
  market->add_option("--batch", batch_path, "write the batch in ewx's batch format here");
  market->add_option("--dimacs", market_dimacs, "write the equivalent DIMACS 'p min' problem here");

  std::uint64_t n = 1000, seed = 1;
  std::int64_t max_cost = 0;
  std::string asn_path, npy_path;
  CLI::App* assignment = app.add_subcommand("assignment", "a dense n x n assignment problem");
  assignment->add_option("--n", n, "rows and columns")->check(CLI::Range(1, 100'000));
  assignment->add_option("--seed", seed, "random seed");
  assignment->add_option("--max-cost", max_cost, "costs are uniform in [0, max-cost) (default 10n)");
  assignment->add_option("--dimacs", asn_path, "write DIMACS 'p asn' here");
  assignment->add_option("--npy", npy_path, "write the cost matrix as a NumPy int64 .npy file here");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*market) {
      if (batch_path.empty() && market_dimacs.empty())
        throw std::runtime_error("nothing to write: give --batch and/or --dimacs");
      write_market(shape, topology_path, batch_path, market_dimacs);
    } else {
      write_assignment(n, max_cost > 0 ? max_cost : static_cast<std::int64_t>(10 * n), seed, asn_path, npy_path);
    }
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return 1;
  }
  return 0;
}
