// Everything isoflow has: columnar data, the isolation forest, readers and the file source,
// expectations, the store and pipelines. Needs Eigen, simdjson, zlib and SQLite.
#pragma once

#include "isoflow/core.hpp"
#include "isoflow/forest.hpp"
#include "isoflow/io.hpp"
#include "isoflow/pipeline.hpp"
#include "isoflow/quality.hpp"
#include "isoflow/store.hpp"
