/* anvil_runtime.h: what libanvil-c offers beyond the C library: finding other services through
 * the name server, and choosing where printf's output goes. */
#ifndef ANVIL_RUNTIME_H
#define ANVIL_RUNTIME_H
#include <stddef.h>
#include <anvil/kernel.h>
#include <anvil/name.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This process's capability to the name server (BOOT_SLOT_NAMES), badged with its identity. */
static inline anvil_name_service_ep_t anvil_names(void) {
    return anvil_name_service_ep(ANVIL_BOOT_SLOT_NAMES);
}

/* The endpoint registered under `name`, waiting until it is registered (NameService.lookup). */
anvil_status_t anvil_lookup(const char *name, anvil_cap_t *endpoint);
/* The endpoint registered under `name` now, or ANVIL_STATUS_NOT_FOUND. */
anvil_status_t anvil_try_lookup(const char *name, anvil_cap_t *endpoint);
/* Registers `endpoint` under `name`. */
anvil_status_t anvil_register(const char *name, anvil_cap_t endpoint);

/* Sends printf's output to the Console endpoint in `slot` from now on. A service normally
 * never calls this: the runtime looks `console` up when it first prints. */
void anvil_console_use(anvil_cap_t slot);

#ifdef __cplusplus
}
#endif
#endif
