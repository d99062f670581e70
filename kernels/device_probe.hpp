// Is there a GPU ewx can use? Asked once at start-up by every program that can clear on one.
//
// No driver, no device and a CPU-only build are all normal answers on an exchange host, not errors: the
// caller clears on the CPU and says so in one log line. This header has no CUDA syntax, so any .cpp can
// include it; device_probe.cu answers in CUDA builds and device_probe_without_cuda.cpp in the others.
#pragma once

#include <cstdint>
#include <string>

namespace ewx::kernels {

struct DeviceProbe {
  bool usable = false;
  std::string name;              // e.g. "NVIDIA H100 80GB HBM3", when usable
  int compute_capability = 0;    // major * 10 + minor, when usable
  std::uint64_t free_bytes = 0;  // device memory free at probe time, when usable
  std::string reason;            // why not, when not usable
};

DeviceProbe probe_device();

// True when this binary was compiled with the CUDA kernels.
bool built_with_cuda();

}  // namespace ewx::kernels
