# Dependencies of the parts beyond the forest. `#include <isoflow/forest.hpp>` needs only Eigen;
# the readers need simdjson (JSON) and zlib (gzip), the store needs SQLite. Each one found here
# is linked into isoflow::isoflow and recorded for isoflowConfig.cmake, which finds it again
# for the consumer.
set(ISOFLOW_CONFIG_DEPENDENCIES "")

find_package(simdjson CONFIG QUIET)
if(simdjson_FOUND)
    target_link_libraries(isoflow INTERFACE simdjson::simdjson)
    string(APPEND ISOFLOW_CONFIG_DEPENDENCIES "find_dependency(simdjson CONFIG)\n")
endif()

find_package(ZLIB QUIET)
if(ZLIB_FOUND)
    target_link_libraries(isoflow INTERFACE ZLIB::ZLIB)
    string(APPEND ISOFLOW_CONFIG_DEPENDENCIES "find_dependency(ZLIB)\n")
endif()

find_package(SQLite3 QUIET)
if(SQLite3_FOUND)
    target_link_libraries(isoflow INTERFACE SQLite::SQLite3)
    string(APPEND ISOFLOW_CONFIG_DEPENDENCIES "find_dependency(SQLite3)\n")
endif()

message(STATUS "isoflow: simdjson ${simdjson_FOUND}, zlib ${ZLIB_FOUND}, SQLite ${SQLite3_FOUND}")
