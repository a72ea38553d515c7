# Installs isoflow into a prefix of its own, then builds and runs a project that finds it with
# find_package(isoflow).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}")
    endif()
endfunction()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/isoflow" -G "${GENERATOR}"
    -DISOFLOW_BUILD_TESTS=OFF -DISOFLOW_BUILD_BENCHMARKS=OFF -DISOFLOW_BUILD_EXAMPLES=OFF
    "-DCMAKE_INSTALL_PREFIX=${prefix}")
run("${CMAKE_COMMAND}" --install "${WORK_DIR}/isoflow")
if(NOT EXISTS "${prefix}/share/cmake/isoflow/isoflowConfig.cmake"
   OR NOT EXISTS "${prefix}/share/cmake/isoflow/isoflowConfigVersion.cmake")
    message(FATAL_ERROR "the install has no share/cmake/isoflow/isoflowConfig.cmake and version file")
endif()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/cmake_consumer" -B "${WORK_DIR}/consumer"
    -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer")
