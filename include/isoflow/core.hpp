// Columnar batches, schemas, data types and the error hierarchy. Uses only the standard library.
#pragma once

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/version.hpp"
