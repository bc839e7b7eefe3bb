/*
 * Force-included into llama.cpp's C++ files when `knob bench model` builds
 * llama.cpp with GCC and AMX (see src/commands/bench_model.rs).
 *
 * GCC 12's amxtileintrin.h gives ldtilecfg an 8-byte memory operand
 * ("m" (*(const void **)config)) where the instruction reads 64 bytes, so GCC
 * drops the stores of the tile shapes as dead: ggml's ggml_tile_config_init()
 * loads palette 1 with every tile unconfigured, and the first tileloadd of
 * llama.cpp's AMX gemm dies with SIGILL (llama.cpp PR #26954 moves the config
 * to .rodata for the same reason). This gives the instruction its 64 bytes.
 */
#ifndef KNOB_LLAMACPP_GCC_AMX_TILECFG_H
#define KNOB_LLAMACPP_GCC_AMX_TILECFG_H
#if defined(__GNUC__) && !defined(__clang__) && defined(__AMX_TILE__) && defined(__x86_64__)
#include <immintrin.h>
#define _tile_loadconfig(config) \
    __asm__ volatile("ldtilecfg\t%X0" ::"m"(*(const unsigned char(*)[64])(config)))
#endif
#endif
