# Initial cache of the fuzz build (scripts/fuzz configures build-fuzz with it):
#   cmake -C tests/fuzz/fuzz.cmake -S . -B build-fuzz
# Clang with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer on every translation
# unit (the fuzz targets add -fsanitize=fuzzer when linking), optimised for speed with
# assertions and libstdc++'s bounds checks on, and none of the parts that need LibTorch or CUDA.
set(CMAKE_C_COMPILER clang-14 CACHE STRING "")
set(CMAKE_CXX_COMPILER clang++-14 CACHE STRING "")
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "")
set(QLAB_FUZZ_FLAGS "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS")
set(CMAKE_C_FLAGS "${QLAB_FUZZ_FLAGS}" CACHE STRING "")
set(CMAKE_CXX_FLAGS "${QLAB_FUZZ_FLAGS}" CACHE STRING "")
# -O1 -g without NDEBUG: assert() stays on.
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O1 -g" CACHE STRING "")
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g" CACHE STRING "")
set(QLAB_FUZZ ON CACHE BOOL "")
set(QLAB_WITH_TORCH OFF CACHE BOOL "")
set(QLAB_WITH_CUDA OFF CACHE BOOL "")
set(QLAB_BUILD_TESTS OFF CACHE BOOL "")
set(QLAB_BUILD_BENCH OFF CACHE BOOL "")
set(QLAB_PYTHON_CLIENT OFF CACHE BOOL "")
