/* stdlib.h: memory allocation and process exit of libanvil-c. */
#ifndef ANVIL_STDLIB_H
#define ANVIL_STDLIB_H
#include <stddef.h>
void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t n);
void *realloc(void *p, size_t n);
_Noreturn void exit(int code);
_Noreturn void abort(void);
/* Bytes the allocator has obtained from the kernel, and bytes handed out now (for tests). */
size_t anvil_heap_reserved(void);
size_t anvil_heap_in_use(void);
#endif
