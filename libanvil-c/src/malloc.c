/* malloc.c: a first-fit allocator with a free list sorted by address, so neighbouring free
 * blocks merge and memory is reused. It takes memory from the kernel with VSpace.alloc, in
 * arenas of at least 64 KiB, charged to the service's quota. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <anvil/kernel.h>

#define ALIGN 16u
#define ARENA (64u * 1024u)

typedef struct block {
    size_t size; /* bytes including this header; a multiple of ALIGN */
    struct block *next; /* next free block by address (free blocks only) */
} block_t;

#define HDR ((sizeof(block_t) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

static block_t *free_list;
static size_t reserved, in_use;

static void insert_free(block_t *b) {
    block_t **p = &free_list;
    while (*p && *p < b) p = &(*p)->next;
    b->next = *p;
    *p = b;
    /* Merge with the next block, then with the previous one. */
    if (b->next && (char *)b + b->size == (char *)b->next) {
        b->size += b->next->size;
        b->next = b->next->next;
    }
    if (p != &free_list) {
        block_t *prev = (block_t *)((char *)p - offsetof(block_t, next));
        if ((char *)prev + prev->size == (char *)b) {
            prev->size += b->size;
            prev->next = b->next;
        }
    }
}

static int grow(size_t need) {
    size_t len = need > ARENA ? (need + 4095) & ~(size_t)4095 : ARENA;
    uint64_t va = 0;
    if (anvil_vspace_alloc(ANVIL_BOOT_SLOT_VSPACE, ANVIL_BOOT_SLOT_QUOTA, len, ANVIL_MAP_FLAGS_R | ANVIL_MAP_FLAGS_W, &va) != 0)
        return 0;
    block_t *b = (block_t *)(uintptr_t)va;
    b->size = len;
    reserved += len;
    insert_free(b);
    return 1;
}

void *malloc(size_t n) {
    if (n == 0 || n > ((size_t)1 << 40)) return NULL;
    size_t need = (n + HDR + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    for (int tries = 0; tries < 2; tries++) {
        for (block_t **p = &free_list; *p; p = &(*p)->next) {
            block_t *b = *p;
            if (b->size < need) continue;
            if (b->size - need >= HDR + ALIGN) {
                block_t *rest = (block_t *)((char *)b + need);
                rest->size = b->size - need;
                rest->next = b->next;
                *p = rest;
                b->size = need;
            } else {
                *p = b->next;
            }
            in_use += b->size;
            return (char *)b + HDR;
        }
        if (!grow(need)) return NULL;
    }
    return NULL;
}

void free(void *p) {
    if (!p) return;
    block_t *b = (block_t *)((char *)p - HDR);
    in_use -= b->size;
    insert_free(b);
}

void *calloc(size_t count, size_t n) {
    if (n && count > ((size_t)-1) / n) return NULL;
    void *p = malloc(count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    if (!n) {
        free(p);
        return NULL;
    }
    block_t *b = (block_t *)((char *)p - HDR);
    size_t have = b->size - HDR;
    if (have >= n) return p;
    void *q = malloc(n);
    if (q) {
        memcpy(q, p, have);
        free(p);
    }
    return q;
}

size_t anvil_heap_reserved(void) {
    return reserved;
}

size_t anvil_heap_in_use(void) {
    return in_use;
}
