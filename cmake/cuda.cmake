# Decides whether kernels/ is built with CUDA (EWX_CUDA=AUTO|ON|OFF) and sets EWX_HAVE_CUDA.
#
# AUTO builds the kernels whenever nvcc is found, also on machines without a GPU (CI), so that the CUDA
# code always compiles; whether a device is usable is decided at run time. Hopper (sm_90) SASS plus
# compute_90 PTX, so newer GPUs can JIT the PTX.
set(EWX_HAVE_CUDA OFF)
if(NOT EWX_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    # C++20, like the rest of ewx (the kernels include matcher headers that use std::span). CMake 3.25 does
    # not know that nvcc 13 takes -std=c++20, so it is told.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(EWX_HAVE_CUDA ON)
  elseif(EWX_CUDA STREQUAL "ON")
    message(FATAL_ERROR "EWX_CUDA=ON but no CUDA compiler was found (looked for /usr/local/cuda/bin/nvcc)")
  endif()
endif()
message(STATUS "ewx: CUDA kernels ${EWX_HAVE_CUDA}")
