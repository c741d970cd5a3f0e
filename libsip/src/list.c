#include "list.h"

void list_init(struct list *list)
{
	list->head = NULL;
	list->tail = NULL;
	list->count = 0;
}

void list_append(struct list *list, struct le *le, void *data)
{
	le->prev = list->tail;
	le->next = NULL;
	le->list = list;
	le->data = data;
	if (list->tail)
		list->tail->next = le;
	else
		list->head = le;
	list->tail = le;
	list->count++;
}

void list_prepend(struct list *list, struct le *le, void *data)
{
	le->prev = NULL;
	le->next = list->head;
	le->list = list;
	le->data = data;
	if (list->head)
		list->head->prev = le;
	else
		list->tail = le;
	list->head = le;
	list->count++;
}

void list_insert_before(struct list *list, struct le *ref, struct le *le,
			void *data)
{
	if (!ref->prev) {
		list_prepend(list, le, data);
		return;
	}
	le->prev = ref->prev;
	le->next = ref;
	le->list = list;
	le->data = data;
	ref->prev->next = le;
	ref->prev = le;
	list->count++;
}

void list_insert_after(struct list *list, struct le *ref, struct le *le,
		       void *data)
{
	if (!ref->next) {
		list_append(list, le, data);
		return;
	}
	list_insert_before(list, ref->next, le, data);
}

void list_unlink(struct le *le)
{
	struct list *list = le->list;

	if (!list)
		return;
	if (le->prev)
		le->prev->next = le->next;
	else
		list->head = le->next;
	if (le->next)
		le->next->prev = le->prev;
	else
		list->tail = le->prev;
	list->count--;
	le->prev = NULL;
	le->next = NULL;
	le->list = NULL;
}
