# The runtime as an installed package: install the `runtime` component to a fresh prefix, check that only the
# runtime's files land there, then build three consumers against it and run each (on a missing file: the
# one-line error path; on MODEL when given: a sample): examples/package_consumer (C++, find_package),
# examples/package_consumer_c (a C-only CMake project, find_package) and the same C file compiled by C_COMPILER
# with pkg-config's flags. Run by ctest as
#   cmake -DBUILD_DIR=.. -DSOURCE_DIR=.. -DWORK_DIR=.. -DC_COMPILER=.. [-DMODEL=..] -P this
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER)
  if(NOT ${v})
    message(FATAL_ERROR "package_test: pass -D${v}=...")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --component runtime --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "install failed (${rc}): ${out}")
endif()
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
list(SORT installed)
foreach(f include/nfp/runtime.h include/nfp/runtime.hpp lib/cmake/nfp_runtime/nfp_runtimeConfig.cmake
          lib/cmake/nfp_runtime/nfp_runtimeConfigVersion.cmake lib/cmake/nfp_runtime/nfp_runtimeTargets.cmake
          lib/pkgconfig/nfp_runtime.pc)
  string(REPLACE "lib/" "" tail ${f})
  list(FIND installed ${f} at)
  if(at LESS 0)
    # GNUInstallDirs may say lib64 or lib/<multiarch>
    string(REGEX MATCH "[^;]*${tail}" found "${installed}")
    if(NOT found)
      message(FATAL_ERROR "not installed: ${f}; installed: ${installed}")
    endif()
  endif()
endforeach()
foreach(f ${installed})
  if(NOT f MATCHES "(include/nfp/runtime\\.hp?p?|libnfp_runtime\\.a|cmake/nfp_runtime/.*\\.cmake|pkgconfig/nfp_runtime\\.pc)$")
    message(FATAL_ERROR "the runtime component installed a file that is not the runtime's: ${f}")
  endif()
endforeach()

# Runs consumer `exe` on a missing file (the one-line error, exit 1) and on MODEL (a sample).
function(run_consumer exe)
  execute_process(COMMAND ${exe} ${WORK_DIR}/missing.nfpr RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "cannot open")
    message(FATAL_ERROR "${exe} on a missing file: exit ${rc}, stderr '${err}' (expected 1 and 'cannot open')")
  endif()
  if(MODEL)
    execute_process(COMMAND ${exe} ${MODEL} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(rc OR NOT out MATCHES ": ok, chunk")
      message(FATAL_ERROR "${exe} on ${MODEL}: exit ${rc}: ${out}${err}")
    endif()
    message(STATUS "${exe}: ${out}")
  endif()
endfunction()

# Configures and builds examples/<example> against the prefix with find_package(nfp_runtime).
function(build_with_cmake example)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/${example} -B ${WORK_DIR}/${example}
                          -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "configuring ${example} failed: ${out}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/${example} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "building ${example} failed: ${out}")
  endif()
endfunction()

build_with_cmake(package_consumer)
run_consumer(${WORK_DIR}/package_consumer/nfp_consumer)
build_with_cmake(package_consumer_c)
run_consumer(${WORK_DIR}/package_consumer_c/nfp_consumer_c)

# pkg-config: the installed .pc file alone gives the flags (no CMake on the consumer's side).
file(GLOB_RECURSE pc_file ${prefix}/nfp_runtime.pc)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND pkg-config --cflags --libs nfp_runtime RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config --cflags --libs nfp_runtime failed (${rc}): ${err}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND ${C_COMPILER} ${SOURCE_DIR}/examples/package_consumer_c/main.c ${flags} -o ${WORK_DIR}/consumer_pc
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "cc main.c $(pkg-config --cflags --libs nfp_runtime) failed: ${out}")
endif()
run_consumer(${WORK_DIR}/consumer_pc)

file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "the C++, C (CMake) and C (pkg-config) consumers built and ran")
