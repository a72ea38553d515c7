// The isolation forest: scikit-learn's IsolationForest in C++, with model files and
// scikit-learn import. Needs only Eigen.
#pragma once

#include "isoflow/core/error.hpp"
#include "isoflow/forest/isolation_forest.hpp"
#include "isoflow/forest/params.hpp"
#include "isoflow/forest/tree.hpp"
#include "isoflow/version.hpp"
