#ifndef LIST_H
#define LIST_H

#include <stddef.h>

/* A singly linked list of opaque items. */
struct list_node {
    void *item;
    struct list_node *next;
};

typedef struct list {
    struct list_node *head;
    size_t len;
} list_t;

list_t *list_new(void);
int list_push(list_t *l, void *item);
void list_free(list_t *l, void (*free_item)(void *));

#endif /* LIST_H */
