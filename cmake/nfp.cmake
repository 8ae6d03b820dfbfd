# Shared build helpers.
#
# Every target that includes <torch/torch.h> reuses one precompiled header (nfp_torch_pch): parsing
# torch.h costs ~15 s per translation unit on this class of machine, the PCH makes it ~1 s.

add_library(nfp_torch_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
target_link_libraries(nfp_torch_pch PUBLIC ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json)
target_include_directories(nfp_torch_pch PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_compile_options(nfp_torch_pch PUBLIC -Wall -Wextra -Wno-unused-parameter)
target_precompile_headers(nfp_torch_pch PRIVATE <torch/torch.h> <nlohmann/json.hpp>
  <vector> <string> <map> <memory> <stdexcept>)

# nfp_torch_target(TARGET): use the shared torch PCH in TARGET.
function(nfp_torch_target target)
  target_link_libraries(${target} PUBLIC nfp_torch_pch)
  target_precompile_headers(${target} REUSE_FROM nfp_torch_pch)
endfunction()

# nfp_library(NAME SOURCES... [TORCH] [LIBS libs...]): one static library per layer.
function(nfp_library name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(ARG_TORCH)
    nfp_torch_target(${name})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LIBS})
endfunction()

# nfp_test(NAME SOURCES... LIBS libs... [TORCH] [LABELS l...] [RUNNER cmd...]): one GoogleTest executable per
# concern. RUNNER: a command CTest runs the executable through (e.g. a script that provides a tool or skips, exit 77).
function(nfp_test name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;LIBS;LABELS;RUNNER" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  if(ARG_TORCH)
    nfp_torch_target(${name})
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${ARG_RUNNER} $<TARGET_FILE:${name}>)
  if(ARG_RUNNER)
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
  set(timeout 600)
  if(NFP_SANITIZERS)  # tests run 2-5x slower under ASan + UBSan
    set(timeout 1800)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout}
    ENVIRONMENT "OMP_NUM_THREADS=1;NFP_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;NFP_BIN=$<TARGET_FILE:nfp>")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
