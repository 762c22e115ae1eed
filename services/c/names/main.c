/* names: the name server. It maps names to endpoint capabilities so that services find each
 * other, and enforces the manifest's policy: a service may register only the names its line
 * `provides=` and look up only those it `uses=` (an entry ALIAS=NAME lets it look NAME up as
 * ALIAS); anything else is ACCESS_DENIED. Each service calls it through a capability badged
 * with its identity; the first time a badge calls, the name server asks init (NamePolicy) what
 * that service may do.
 *
 * Registered endpoints are kept in a CNode of their own (the registry), which only this server
 * fills. When a provider is destroyed, init revokes its quota and with it every capability
 * derived from the provider's endpoint, including the registry's copy: the registry slot
 * becomes empty and stays empty (nothing else can land there), so the name server sees that
 * the name's provider is gone and drops the name. A restarted provider registers again.
 *
 * A lookup of a name that is not registered waits: the handler saves the caller's reply
 * (Endpoint.save_reply) and the request; when the name is registered, the saved request is
 * dispatched again through the generated dispatch, and its reply sent with Reply.send. A
 * lookup answer is a copy of the registered endpoint minted with the caller's badge, so the
 * provider tells its callers apart. `supervisor` is init's own endpoint, given to the name
 * server in BOOT_SLOT_INIT. */
#include <stdio.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>
#include <anvil/name.h>
#include <anvil_runtime.h>

#define MAX_NAMES 64
#define MAX_CLIENTS 64
#define MAX_PENDING 32
#define PENDING_PER_CLIENT 4
#define REGISTRY_SLOTS 128
/* Slots of the name server's own CNode it manages itself; the kernel places received
 * capabilities in the lowest free slot, far below these. */
#define TMP_SLOT (ANVIL_BOOT_CNODE_SLOTS - 1)
#define CONSOLE_SLOT (ANVIL_BOOT_CNODE_SLOTS - 2)
#define REGISTRY_CNODE (ANVIL_BOOT_CNODE_SLOTS - 3)

struct client {
    uint64_t badge;
    int known;
    char provides[201];
    char uses[301];
};

struct name {
    int used;
    char name[65];
    uint64_t owner;
    anvil_cap_t cnode; /* where the capability is: the registry, or this CNode (supervisor) */
    uint64_t slot;
};

struct pending {
    int used;
    uint64_t badge;
    anvil_cap_t reply;
    char target[65];
    anvil_msg_t request;
};

static struct client clients[MAX_CLIENTS];
static unsigned next_evict;
static struct name names[MAX_NAMES];
static struct pending pending[MAX_PENDING];
static uint8_t registry_used[REGISTRY_SLOTS];
/* The request being dispatched (kept before the dispatch overwrites the buffer), and whether
 * it is a saved one dispatched again. */
static anvil_msg_t current;
static int replaying;
static int deferred;
/* A name registered during the last request: saved lookups for it are answered after the
 * reply. */
static char registered[65];
static int have_tmp;
static char log_line[160];

static int word_is(const char *w, size_t wlen, const char *s, size_t n) {
    return wlen == n && memcmp(w, s, n) == 0;
}

/* Calls f on each space-separated word of list; stops when f returns non-zero. */
static int each_word(const char *list, int (*f)(const char *w, size_t n, void *arg), void *arg) {
    const char *p = list;
    while (*p) {
        while (*p == ' ') p++;
        const char *start = p;
        while (*p && *p != ' ') p++;
        if (p > start && f(start, (size_t)(p - start), arg)) return 1;
    }
    return 0;
}

struct want {
    const char *name;
    size_t len;
    char *target; /* out: the name an alias stands for */
};

static int provides_word(const char *w, size_t n, void *arg) {
    struct want *q = arg;
    return word_is(w, n, q->name, q->len);
}

static int uses_word(const char *w, size_t n, void *arg) {
    struct want *q = arg;
    const char *eq = memchr(w, '=', n);
    size_t alias = eq ? (size_t)(eq - w) : n;
    if (!word_is(w, alias, q->name, q->len)) return 0;
    const char *t = eq ? eq + 1 : w;
    size_t tn = eq ? n - alias - 1 : n;
    if (tn > 64) return 0;
    memcpy(q->target, t, tn);
    q->target[tn] = 0;
    return 1;
}

/* The client with `badge`, asking init for its policy the first time. */
static struct client *client_of(uint64_t badge) {
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].known && clients[i].badge == badge) return &clients[i];
    }
    struct client *c = NULL;
    for (int i = 0; i < MAX_CLIENTS && !c; i++) {
        if (!clients[i].known) c = &clients[i];
    }
    if (!c) c = &clients[next_evict++ % MAX_CLIENTS]; /* asked again when it calls again */
    size_t pl = 0, ul = 0;
    memset(c, 0, sizeof *c);
    anvil_status_t st = anvil_name_policy_policy(anvil_name_policy_ep(ANVIL_BOOT_SLOT_INIT), badge, c->provides,
                                                 200, &pl, c->uses, 300, &ul);
    if (st != ANVIL_STATUS_OK) return NULL;
    c->provides[pl] = 0;
    c->uses[ul] = 0;
    c->badge = badge;
    c->known = 1;
    return c;
}

static struct client *caller(uint64_t badge) {
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].known && clients[i].badge == badge) return &clients[i];
    }
    return NULL;
}

/* The live entry for `name`; an entry whose provider was destroyed is dropped here. */
static struct name *find(const char *name, size_t len) {
    for (int i = 0; i < MAX_NAMES; i++) {
        struct name *e = &names[i];
        if (!e->used || strlen(e->name) != len || memcmp(e->name, name, len) != 0) continue;
        uint32_t type = 0;
        anvil_rights_t rights = 0;
        uint64_t badge = 0;
        if (anvil_cap_identify(e->cnode, e->slot, &type, &rights, &badge) == ANVIL_STATUS_OK) return e;
        /* Its provider is gone: the slot emptied with the revocation of its quota. */
        if (e->cnode == REGISTRY_CNODE) registry_used[e->slot] = 0;
        e->used = 0;
        return NULL;
    }
    return NULL;
}

static anvil_status_t on_register(void *ctx, uint64_t badge, const char *name, size_t len, anvil_rx_cap_t *ep) {
    (void)ctx;
    struct client *c = caller(badge);
    struct want q = {name, len, NULL};
    if (!c || !each_word(c->provides, provides_word, &q)) return ANVIL_STATUS_ACCESS_DENIED;
    struct name *e = find(name, len);
    if (e && e->owner != badge) return ANVIL_STATUS_ALREADY_EXISTS;
    int slot = -1;
    for (int i = 1; i < REGISTRY_SLOTS && slot < 0; i++) { /* slot 0 names no capability */
        if (!registry_used[i]) slot = i;
    }
    if (slot < 0) return ANVIL_STATUS_NO_SLOT;
    if (!e) {
        for (int i = 0; i < MAX_NAMES && !e; i++) {
            if (!names[i].used) e = &names[i];
        }
        if (!e) return ANVIL_STATUS_NO_SLOT;
    } else {
        /* The same service registers again: its old endpoint goes. */
        (void)anvil_cap_delete(REGISTRY_CNODE, e->slot);
        registry_used[e->slot] = 0;
    }
    anvil_status_t st = anvil_cap_transfer(ANVIL_BOOT_SLOT_CNODE, ep->slot, REGISTRY_CNODE, (uint64_t)slot);

    if (st != ANVIL_STATUS_OK) {
        e->used = 0;
        return st;
    }
    (void)anvil_rx_take(ep); /* moved to the registry */
    registry_used[slot] = 1;
    e->used = 1;
    memcpy(e->name, name, len);
    e->name[len] = 0;
    e->owner = badge;
    e->cnode = REGISTRY_CNODE;
    e->slot = (uint64_t)slot;
    memcpy(registered, name, len);
    registered[len] = 0;
    snprintf(log_line, sizeof log_line, "names: `%s` registered by client %lu\n", registered, (unsigned long)badge);
    return ANVIL_STATUS_OK;
}

/* A copy of entry e for the caller, in TMP_SLOT: minted with its badge when the registered
 * capability has none. */
static anvil_status_t hand_out(struct name *e, uint64_t badge, anvil_cap_t *out) {
    const anvil_rights_t rights = ANVIL_RIGHTS_WRITE | ANVIL_RIGHTS_GRANT;
    anvil_status_t st = anvil_cap_mint(e->cnode, e->slot, ANVIL_BOOT_SLOT_CNODE, TMP_SLOT, rights, badge);
    if (st == ANVIL_STATUS_INVALID_ARGS) st = anvil_cap_copy(e->cnode, e->slot, ANVIL_BOOT_SLOT_CNODE, TMP_SLOT, rights);
    if (st != ANVIL_STATUS_OK) return st;
    have_tmp = 1;
    *out = TMP_SLOT;
    return ANVIL_STATUS_OK;
}

static anvil_status_t resolve(uint64_t badge, const char *name, size_t len, char target[65]) {
    struct client *c = caller(badge);
    struct want q = {name, len, target};
    if (!c || !each_word(c->uses, uses_word, &q)) return ANVIL_STATUS_ACCESS_DENIED;
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_try_lookup(void *ctx, uint64_t badge, const char *name, size_t len, anvil_cap_t *ep) {
    (void)ctx;
    char target[65];
    anvil_status_t st = resolve(badge, name, len, target);
    if (st != ANVIL_STATUS_OK) return st;
    struct name *e = find(target, strlen(target));
    if (!e) return ANVIL_STATUS_NOT_FOUND;
    return hand_out(e, badge, ep);
}


/* Deletes the saved lookups whose clients no longer wait for them (killed, or stopped): they
 * would count against their client's limit and hold this server's slots for ever. */
static void forget_dead_lookups(void) {
    for (int i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &pending[i];
        if (!p->used) continue;
        bool waiting = false;
        if (anvil_reply_waiting(p->reply, &waiting) == ANVIL_STATUS_OK && waiting) continue;
        (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, p->reply);
        p->used = 0;
    }
}

static anvil_status_t on_lookup(void *ctx, uint64_t badge, const char *name, size_t len, anvil_cap_t *ep) {
    (void)ctx;
    char target[65];
    anvil_status_t st = resolve(badge, name, len, target);
    if (st != ANVIL_STATUS_OK) return st;
    struct name *e = find(target, strlen(target));
    if (e) return hand_out(e, badge, ep);
    if (replaying) {
        deferred = 1;
        return ANVIL_STATUS_WOULD_BLOCK;
    }
    /* Not registered yet: the reply is saved and the request answered when it is. */
    forget_dead_lookups();
    int mine = 0, slot = -1;
    for (int i = 0; i < MAX_PENDING; i++) {
        if (pending[i].used && pending[i].badge == badge) mine++;
        if (!pending[i].used && slot < 0) slot = i;
    }
    if (slot < 0 || mine >= PENDING_PER_CLIENT) return ANVIL_STATUS_WOULD_BLOCK;
    anvil_cap_t reply = 0;
    st = anvil_endpoint_save_reply(ANVIL_BOOT_SLOT_QUOTA, &reply);
    if (st != ANVIL_STATUS_OK) return st;
    struct pending *p = &pending[slot];
    p->used = 1;
    p->badge = badge;
    p->reply = reply;
    memcpy(p->target, target, sizeof p->target);
    p->request = current;
    deferred = 1;
    return ANVIL_STATUS_WOULD_BLOCK;
}

static const anvil_name_service_ops_t ops = {
    .handle_register = on_register,
    .handle_lookup = on_lookup,
    .handle_try_lookup = on_try_lookup,
};

static void drop_tmp(void) {
    if (have_tmp) {
        (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, TMP_SLOT);
        have_tmp = 0;
    }
}

/* Answers the saved lookups of `name`, now registered. */
static void answer_pending(const char *name) {
    anvil_msg_t *m = anvil_msg_buffer();
    for (int i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &pending[i];
        if (!p->used || strcmp(p->target, name) != 0) continue;
        *m = p->request;
        current = p->request;
        replaying = 1;
        deferred = 0;
        anvil_name_service_dispatch(&ops, NULL, m);
        replaying = 0;
        if (deferred) continue;
        (void)anvil_reply_send(p->reply);
        (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, p->reply);
        drop_tmp();
        p->used = 0;
    }
}

/* The name server prints through the console it hands out, once the IO server registered it
 * (it cannot look itself up). */
static void connect_console(void) {
    struct name *e = find("console", 7);
    if (!e) return;
    (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, CONSOLE_SLOT);
    if (anvil_cap_copy(e->cnode, e->slot, ANVIL_BOOT_SLOT_CNODE, CONSOLE_SLOT, ANVIL_RIGHTS_WRITE) == ANVIL_STATUS_OK) {
        anvil_console_use(CONSOLE_SLOT);
    }
}

int main(void) {
    anvil_cap_t registry = 0;
    if (anvil_cnode_create(ANVIL_BOOT_SLOT_QUOTA, REGISTRY_SLOTS, &registry) != ANVIL_STATUS_OK ||
        anvil_cap_transfer(ANVIL_BOOT_SLOT_CNODE, registry, ANVIL_BOOT_SLOT_CNODE, REGISTRY_CNODE) != ANVIL_STATUS_OK) {
        return 1;
    }
    /* `supervisor` is init's endpoint, which init gave this server. */
    names[0].used = 1;
    strcpy(names[0].name, "supervisor");
    names[0].owner = 0;
    names[0].cnode = ANVIL_BOOT_SLOT_CNODE;
    names[0].slot = ANVIL_BOOT_SLOT_INIT;

    anvil_msg_t *m = anvil_msg_buffer();
    for (;;) {
        anvil_status_t rs = anvil_endpoint_recv(ANVIL_BOOT_SLOT_NAMES);
        if (rs == ANVIL_STATUS_INVALID_CAP || rs == ANVIL_STATUS_WRONG_TYPE || rs == ANVIL_STATUS_ACCESS_DENIED ||
            rs == ANVIL_STATUS_PEER_CLOSED) {
            /* No names endpoint to serve (started without the `nameserver` grant, or it is
             * gone): nothing will ever arrive, so do not spin. */
            printf("names: cannot receive on the names endpoint (status %u); exiting\n", (unsigned)rs);
            return 1;
        }
        if (rs != ANVIL_STATUS_OK) continue;
        uint64_t badge = m->badge;

        uint32_t protocol = (uint32_t)(m->label >> 32);
        registered[0] = 0;
        log_line[0] = 0;
        deferred = 0;
        if (badge == 0 || protocol != ANVIL_NAME_SERVICE_PROTOCOL_ID) {
            /* Every caller holds a badged capability; other protocols get UNKNOWN_METHOD
             * from the dispatch. */
            if (badge == 0) {
                anvil_msg_clear(m);
                m->label = ANVIL_STATUS_ACCESS_DENIED;
            } else {
                anvil_name_service_dispatch(&ops, NULL, m);
            }
        } else {
            /* A badge seen for the first time: its policy comes from init, which uses the IPC
             * buffer, so the request is kept aside meanwhile. */
            current = *m;
            struct client *c = client_of(badge);
            *m = current;
            if (!c) {
                anvil_msg_clear(m);
                m->label = ANVIL_STATUS_ACCESS_DENIED;
            } else {
                anvil_name_service_dispatch(&ops, NULL, m);
            }
        }
        (void)anvil_endpoint_reply(); /* nothing to send for a saved reply */
        drop_tmp();
        if (registered[0]) {
            char name[65];
            strcpy(name, registered);
            if (strcmp(name, "console") == 0) connect_console();
            answer_pending(name);
        }
        if (log_line[0]) printf("%s", log_line);
    }
}
