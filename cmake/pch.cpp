// Precompiled-header anchor; see cmake/nfp.cmake.
