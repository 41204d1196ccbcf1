# Included at the end of tests/CMakeLists.txt (the main build): 20 seconds of each libFuzzer
# target as the test fuzz_NAME. The targets live in build-fuzz (clang), which scripts/test
# builds with `scripts/fuzz --build`; --no-build makes a missing binary fail the test rather
# than skip it.
include(${CMAKE_SOURCE_DIR}/tests/fuzz/targets.cmake)
foreach(name ${QLAB_FUZZ_TARGETS})
  add_test(NAME fuzz_${name}
           COMMAND ${CMAKE_SOURCE_DIR}/scripts/fuzz --no-build --seconds 20 ${name})
  set_tests_properties(fuzz_${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
endforeach()
