// Ingestion: the JSON and CSV readers, schema inference and hints, and the incremental file
// source. Needs simdjson (JSON) and zlib (gzip) besides the standard library.
#pragma once

#include "isoflow/core.hpp"
#include "isoflow/io/file_source.hpp"
#include "isoflow/io/options.hpp"
#include "isoflow/io/reader.hpp"
#include "isoflow/io/seen_file_log.hpp"
#include "isoflow/io/source.hpp"
