// Where a program clears batches, decided once at start-up and said in one log line (ewx-solve, ewxd).
//
// `auto` asks the device probe; a missing driver or device is a normal answer that means the CPU. `gpu`
// that cannot be honoured is an error the caller reports (a usage error, exit 2), never a silent CPU run.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "kernels/device_probe.hpp"

namespace ewx::tools {

// Returns false for a request this build or this machine cannot serve (after logging why).
inline bool choose_solver(const std::string& requested) {
  if (requested == "cpu") {
    spdlog::info("solver: exact CPU solver (requested)");
    return true;
  }
  const kernels::DeviceProbe probe = kernels::probe_device();
  if (requested == "gpu") {
    spdlog::error("--solver gpu is not available: this version of ewx has no GPU solver yet{}",
                  probe.usable ? "" : " (and no usable CUDA device: " + probe.reason + ")");
    return false;
  }
  if (probe.usable)
    spdlog::info("solver: exact CPU solver (CUDA device {} present, but this version has no GPU solver)", probe.name);
  else
    spdlog::info("solver: exact CPU solver (no usable CUDA device: {})", probe.reason);
  return true;
}

}  // namespace ewx::tools
