/*
 * obj.h - reference-counted objects with leak accounting.
 *
 * Long-lived shared things (transactions, connections, bindings, calls)
 * are allocated here.  The destructor runs when the last reference goes
 * and must unlink the object from every list and cancel its timers.
 * Reference counts are atomic, so an object may be shared by threads;
 * what it points to needs its own locking.
 */
#ifndef SIPSTONE_OBJ_H
#define SIPSTONE_OBJ_H

#include <stddef.h>

typedef void(obj_destroy_h)(void *obj);

/*
 * Returns a zeroed object of size bytes holding one reference, or NULL
 * when out of memory.  dh (may be NULL) runs before the memory is freed.
 */
void *obj_alloc(size_t size, obj_destroy_h *dh);

/* Adds a reference; returns obj (NULL stays NULL). */
void *obj_ref(void *obj);

/* Drops a reference; always returns NULL, so "p = obj_deref(p);". */
void *obj_deref(void *obj);

/* Returns the reference count (for tests and assertions). */
unsigned obj_refs(const void *obj);

/*
 * Returns how many objects are alive in this process.  The test runner
 * fails a test that ends with more objects alive than it started with.
 */
size_t obj_live(void);

#endif
