// Storage: the Store interface (rows, source positions, batch log and event log committed
// together), SqliteStore (one SQLite file per pipeline), and the CSV, JSON Lines and callback
// sinks. Needs SQLite besides the standard library. docs/storage.md describes the layout.
//
// isoflow/pipeline/store_seen_file_log.hpp (in isoflow/pipeline.hpp, as it needs the readers)
// adapts a Store to the file source's SeenFileLog, so the seen-file log commits with a batch's rows.
#pragma once

#include "isoflow/core.hpp"
#include "isoflow/store/sinks.hpp"
#include "isoflow/store/sqlite_store.hpp"
#include "isoflow/store/store.hpp"
