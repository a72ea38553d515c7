// Precompiled once and shared by every test program: the test framework and every public header
// (each header's own self-sufficiency is checked by the header-set verification, not here).
#pragma once

#include <isoflow/isoflow.hpp>

#include "catch.hpp"
