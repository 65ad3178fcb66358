/* An engine's view of turbo through the C API: open the GPU, JIT-compile
 * the row quantizer for a head configuration, run it and check the result.
 * Without a GPU it compiles the kernel to PTX, says so, and exits 0. */
#include <turbo/turbo.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 256
#define COLS 128

/* IEEE half bits of a float that f16 represents exactly (used here for
 * multiples of 1/4 with small magnitudes). */
static uint16_t exact_half(float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  if ((bits & 0x7fffffffu) == 0)
    return sign;
  int exponent = (int)((bits >> 23) & 0xff) - 127 + 15;
  return (uint16_t)(sign | (exponent << 10) | ((bits >> 13) & 0x3ff));
}

static int check(turbo_status status, const char *what) {
  if (status == TURBO_STATUS_OK)
    return 0;
  fprintf(stderr, "%s failed: %s: %s\n", what, turbo_status_string(status), turbo_last_error());
  return 1;
}

int main(void) {
  printf("turbo %s (LLVM %s)\n", turbo_version(), turbo_llvm_version());
  turbo_head_config head;
  turbo_head_config_init(&head);
  if (check(turbo_head_config_preset(&head, "llama3-8b"), "preset"))
    return 1;

  turbo_context *context = NULL;
  turbo_status status = turbo_context_create(NULL, &context);
  if (status == TURBO_STATUS_NO_DRIVER || status == TURBO_STATUS_NO_DEVICE) {
    printf("No GPU found (%s).\n", turbo_last_error());
    char *ptx = NULL;
    if (check(turbo_compile_template("quantize_rows", &head, NULL, "ptx", &ptx), "compile"))
      return 1;
    printf("JIT-compiled quantize_rows for sm_90a: %zu bytes of PTX; nothing was run.\n",
           strlen(ptx));
    turbo_free(ptx);
    return 0;
  }
  if (check(status, "turbo_context_create"))
    return 1;

  turbo_kernel *kernel = NULL;
  uint64_t x = 0, q = 0, scales = 0;
  int failed = check(turbo_kernel_create(context, "quantize_rows", &head, NULL, &kernel),
                     "turbo_kernel_create");
  uint16_t *host = malloc(sizeof(uint16_t) * ROWS * COLS);
  float *values = malloc(sizeof(float) * ROWS * COLS);
  int8_t *codes = malloc(ROWS * COLS);
  float *rowScales = malloc(sizeof(float) * ROWS);
  for (int i = 0; i < ROWS * COLS; ++i) {
    values[i] = (float)((i * 37) % 61 - 30) * 0.25f;
    host[i] = exact_half(values[i]);
  }
  failed = failed || check(turbo_device_alloc(context, sizeof(uint16_t) * ROWS * COLS, &x), "alloc") ||
           check(turbo_device_alloc(context, ROWS * COLS, &q), "alloc") ||
           check(turbo_device_alloc(context, sizeof(float) * ROWS, &scales), "alloc") ||
           check(turbo_copy_to_device(context, x, host, sizeof(uint16_t) * ROWS * COLS), "copy") ||
           check(turbo_quantize_rows(kernel, x, q, scales, ROWS, COLS, COLS, NULL), "quantize") ||
           check(turbo_synchronize(context), "synchronize") ||
           check(turbo_copy_to_host(context, codes, q, ROWS * COLS), "copy") ||
           check(turbo_copy_to_host(context, rowScales, scales, sizeof(float) * ROWS), "copy");
  int wrong = 0;
  for (int r = 0; !failed && r < ROWS; ++r) {
    float amax = 0;
    for (int c = 0; c < COLS; ++c)
      amax = fmaxf(amax, fabsf(values[r * COLS + c]));
    wrong += rowScales[r] != amax / 127.0f;
    for (int c = 0; c < COLS; ++c) {
      float expected = nearbyintf(values[r * COLS + c] * (127.0f / amax));
      wrong += codes[r * COLS + c] != (int8_t)expected;
    }
  }
  if (!failed)
    printf("quantize_rows on %d x %d: %s\n", ROWS, COLS, wrong ? "MISMATCH" : "verified");
  turbo_device_free(context, x);
  turbo_device_free(context, q);
  turbo_device_free(context, scales);
  if (kernel)
    turbo_kernel_destroy(kernel);
  turbo_context_destroy(context);
  free(host);
  free(values);
  free(codes);
  free(rowScales);
  return failed || wrong ? 1 : 0;
}
