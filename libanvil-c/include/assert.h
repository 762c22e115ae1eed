/* assert.h: assert() of libanvil-c; a failed assertion reports and aborts. */
#ifndef ANVIL_ASSERT_H
#define ANVIL_ASSERT_H
_Noreturn void anvil_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : anvil_assert_fail(#e, __FILE__, __LINE__))
#endif
#endif
