/*
 * Interface: intrusive doubly linked lists. Embed a tern_list_node in the
 * object, keep a tern_list as the head. A node is on at most one list at a
 * time; tern_list_remove() leaves it detached (pointing at itself), so
 * removing twice is harmless.
 */
#ifndef TERN_LIST_H
#define TERN_LIST_H

#include <stddef.h>
#include <stdbool.h>
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_list_node {
    struct tern_list_node *prev, *next;
};

struct tern_list {
    struct tern_list_node head;
};

#define TERN_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void tern_list_init(struct tern_list *l)
{
    l->head.prev = l->head.next = &l->head;
}

static inline void tern_list_node_init(struct tern_list_node *n)
{
    n->prev = n->next = n;
}

static inline bool tern_list_empty(const struct tern_list *l)
{
    return l->head.next == &l->head;
}

static inline bool tern_list_node_linked(const struct tern_list_node *n)
{
    return n->next != n;
}

static inline void tern_list_push_back(struct tern_list *l, struct tern_list_node *n)
{
    n->prev = l->head.prev;
    n->next = &l->head;
    l->head.prev->next = n;
    l->head.prev = n;
}

static inline void tern_list_remove(struct tern_list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Detaches and returns the first node, or NULL when empty. */
static inline struct tern_list_node *tern_list_pop_front(struct tern_list *l)
{
    struct tern_list_node *n = l->head.next;
    if (n == &l->head)
        return NULL;
    tern_list_remove(n);
    return n;
}

TERN_END_DECLS

#endif
