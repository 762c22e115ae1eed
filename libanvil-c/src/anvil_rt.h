/* anvil_rt.h: runtime internals shared by the libanvil-c sources: symbol naming for host tests
 * and the console hook. */
#ifndef ANVIL_RT_H
#define ANVIL_RT_H

#include <stddef.h>
#include <stdarg.h>

/* Host tests compile the string and printf code next to the host's libc, under other names. */
#ifdef ANVIL_HOST_TEST
#define ANVIL_FN(name) anvil_test_##name
#else
#define ANVIL_FN(name) name
#endif

/* Writes bytes to the console: the IO server once looked up, else the kernel's debug console
 * (runtime.c). Everything printf and puts print goes through here. */
void anvil_rt_console_write(const char *s, size_t n);

int ANVIL_FN(vsnprintf)(char *buf, size_t size, const char *fmt, va_list ap);

#endif
