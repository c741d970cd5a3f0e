#include "obj.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* The header sits in front of the object; its size keeps max alignment. */
struct obj_hdr {
	alignas(max_align_t) atomic_uint refs;
	obj_destroy_h *dh;
};

static atomic_size_t live_objects;

static struct obj_hdr *hdr_of(const void *obj)
{
	return (struct obj_hdr *)((char *)(uintptr_t)obj -
				  sizeof(struct obj_hdr));
}

void *obj_alloc(size_t size, obj_destroy_h *dh)
{
	struct obj_hdr *h;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = calloc(1, sizeof(*h) + size);
	if (!h)
		return NULL;
	atomic_init(&h->refs, 1);
	h->dh = dh;
	atomic_fetch_add(&live_objects, 1);
	return h + 1;
}

void *obj_ref(void *obj)
{
	if (obj)
		atomic_fetch_add_explicit(&hdr_of(obj)->refs, 1,
					  memory_order_relaxed);
	return obj;
}

void *obj_deref(void *obj)
{
	struct obj_hdr *h;

	if (!obj)
		return NULL;
	h = hdr_of(obj);
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	if (h->dh)
		h->dh(obj);
	free(h);
	atomic_fetch_sub(&live_objects, 1);
	return NULL;
}

unsigned obj_refs(const void *obj)
{
	return obj ? atomic_load(&hdr_of(obj)->refs) : 0;
}

size_t obj_live(void)
{
	return atomic_load(&live_objects);
}
