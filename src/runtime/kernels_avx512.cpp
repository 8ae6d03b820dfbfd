// Kernel variant "avx512" (see kernels.hpp; compiled with its own instruction-set flags in CMakeLists.txt).
#define NFP_RT_VARIANT avx512
#define NFP_RT_NAME "avx512"
#define NFP_RT_VW 16
#define NFP_RT_MR 8
#include "runtime/kernels_impl.inc"
