# Builds and runs a project that pulls isoflow in with add_subdirectory; isoflow's own tests,
# benchmarks and examples must stay off because it is not the top-level project.
file(REMOVE_RECURSE "${WORK_DIR}")
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}")
    endif()
endfunction()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/cmake_consumer" -B "${WORK_DIR}" -G "${GENERATOR}"
    "-DISOFLOW_SOURCE_DIR=${SOURCE_DIR}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}")
if(TARGET isoflow_tests_forest OR EXISTS "${WORK_DIR}/isoflow/tests")
    message(FATAL_ERROR "isoflow's tests were configured although isoflow is a subproject")
endif()
run("${WORK_DIR}/consumer")
