// Pipelines: sources -> bronze -> silver -> gold tables, with expectations and scoring, stored
// in SQLite, triggered or continuous, exactly once across crashes. Uses every other part.
#pragma once

#include "isoflow/core.hpp"
#include "isoflow/forest.hpp"
#include "isoflow/io.hpp"
#include "isoflow/pipeline/builder.hpp"
#include "isoflow/pipeline/pipeline.hpp"
#include "isoflow/pipeline/spec.hpp"
#include "isoflow/pipeline/stages.hpp"
#include "isoflow/pipeline/store_seen_file_log.hpp"
#include "isoflow/quality.hpp"
#include "isoflow/store.hpp"
