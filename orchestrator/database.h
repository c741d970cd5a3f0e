/*
 * database.h - the run's own database: a managed mariadbd started on
 * the database host, or the inventory's server reached with its admin
 * account; a database made for the run with the schema and the users,
 * dropped at the end.  rundb.h is the client underneath.
 */
#ifndef SIPSTONE_DATABASE_H
#define SIPSTONE_DATABASE_H

#include "runctx.h"

/* Starts the managed server when the topology asks for one, creates
 * r->db with the schema and the experiment's users.  0 or a positive
 * errno; the run is marked failed with the reason. */
int database_create(struct run *r);

/* Drops r->db (unless --keep-db), frees it and stops the managed
 * server.  A failed drop marks the run failed. */
void database_drop(struct run *r);

#endif
