/*
 * list.h - intrusive doubly linked lists.
 *
 * The list element (struct le) lives inside the object it links, so
 * linking never allocates.  An element is in at most one list at a time.
 */
#ifndef SIPSTONE_LIST_H
#define SIPSTONE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list;

struct le {
	struct le *prev;
	struct le *next;
	struct list *list; /* NULL when not linked */
	void *data;	   /* the object this element is inside */
};

struct list {
	struct le *head;
	struct le *tail;
	size_t count;
};

#define LIST_INIT             \
	{                     \
		NULL, NULL, 0 \
	}

void list_init(struct list *list);

/* Link le (not linked yet) at the end / the front, pointing at data. */
void list_append(struct list *list, struct le *le, void *data);
void list_prepend(struct list *list, struct le *le, void *data);

/* Link le just before / after ref, which is in list. */
void list_insert_before(struct list *list, struct le *ref, struct le *le,
			void *data);
void list_insert_after(struct list *list, struct le *ref, struct le *le,
		       void *data);

/* Unlinks le from its list; does nothing if it is not linked. */
void list_unlink(struct le *le);

static inline bool list_isempty(const struct list *list)
{
	return list->head == NULL;
}

/* Returns whether le is currently in a list. */
static inline bool le_linked(const struct le *le)
{
	return le->list != NULL;
}

#endif
