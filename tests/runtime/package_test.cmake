# The runtime as an installed CMake package: install the `runtime` component to a fresh prefix, check that
# only the runtime's files land there, configure + build examples/package_consumer against it with
# find_package(nfp_runtime), and run the consumer (on a missing file: the one-line error path; on MODEL when
# given: a sample). Run by ctest as `cmake -DBUILD_DIR=.. -DSOURCE_DIR=.. -DWORK_DIR=.. [-DMODEL=..] -P this`.
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR)
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
          lib/cmake/nfp_runtime/nfp_runtimeConfigVersion.cmake lib/cmake/nfp_runtime/nfp_runtimeTargets.cmake)
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
  if(NOT f MATCHES "(include/nfp/runtime\\.hp?p?|libnfp_runtime\\.a|cmake/nfp_runtime/.*\\.cmake)$")
    message(FATAL_ERROR "the runtime component installed a file that is not the runtime's: ${f}")
  endif()
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/package_consumer -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed: ${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "building the consumer failed: ${out}")
endif()

execute_process(COMMAND ${WORK_DIR}/build/nfp_consumer ${WORK_DIR}/missing.nfpr
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "cannot open")
  message(FATAL_ERROR "consumer on a missing file: exit ${rc}, stderr '${err}' (expected 1 and 'cannot open')")
endif()
if(MODEL)
  execute_process(COMMAND ${WORK_DIR}/build/nfp_consumer ${MODEL} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc OR NOT out MATCHES ": ok, chunk")
    message(FATAL_ERROR "consumer on ${MODEL}: exit ${rc}: ${out}${err}")
  endif()
  message(STATUS "${out}")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "find_package(nfp_runtime) consumer built and ran")
