-- proxy-stateful's tables in the run's database (the orchestrator
-- creates them per run; tests/mariadb.c loads this file).
CREATE TABLE IF NOT EXISTS subscriber (
	id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	username VARCHAR(64) NOT NULL,
	domain VARCHAR(64) NOT NULL,
	ha1 CHAR(32) NOT NULL DEFAULT '',     -- MD5(user:realm:password)
	ha1b CHAR(64) NOT NULL DEFAULT '',    -- SHA-256(user:realm:password)
	auth_required TINYINT NOT NULL DEFAULT 1,
	UNIQUE KEY user_domain (username, domain)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS location (
	aor VARCHAR(160) NOT NULL,            -- user@domain
	contact VARCHAR(255) NOT NULL,        -- the Contact URI
	expires BIGINT UNSIGNED NOT NULL,     -- Unix seconds
	q SMALLINT UNSIGNED NOT NULL DEFAULT 1000, -- q-value * 1000
	call_id VARCHAR(128) NOT NULL,
	cseq INT UNSIGNED NOT NULL,
	transport TINYINT UNSIGNED NOT NULL,  -- 1 udp, 2 tcp, 3 tls
	PRIMARY KEY (aor, contact)
) ENGINE=InnoDB;

-- The presence agent's (proxy-stateful --presence), persisted like the
-- bindings.  Strings are written as hex literals: binary columns.
CREATE TABLE IF NOT EXISTS presentity (    -- publications (RFC 3903)
	id BIGINT UNSIGNED PRIMARY KEY,        -- stable across its ETags
	aor VARBINARY(160) NOT NULL,           -- user@domain
	etag VARBINARY(32) NOT NULL,           -- the current SIP-ETag
	expires BIGINT UNSIGNED NOT NULL,      -- Unix seconds
	updated BIGINT UNSIGNED NOT NULL,      -- order of changes: newest wins
	body MEDIUMBLOB NOT NULL,              -- the PIDF as published
	KEY aor (aor)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS active_watchers ( -- subscriptions (RFC 6665)
	call_id VARBINARY(255) NOT NULL,
	local_tag VARBINARY(32) NOT NULL,      -- ours: the To tag of our 200
	remote_tag VARBINARY(255) NOT NULL,
	aor VARBINARY(160) NOT NULL,           -- the presentity
	watcher VARBINARY(160) NOT NULL,       -- From user@host (the filter's)
	local_uri BLOB NOT NULL,               -- our From in NOTIFY
	remote_uri BLOB NOT NULL,              -- our To in NOTIFY
	target BLOB NOT NULL,                  -- the remote target (Contact)
	route BLOB NOT NULL,                   -- the route set, or ''
	expires BIGINT UNSIGNED NOT NULL,      -- Unix seconds
	cseq INT UNSIGNED NOT NULL,            -- ours when written
	remote_cseq INT UNSIGNED NOT NULL,
	transport TINYINT UNSIGNED NOT NULL,   -- 1 udp, 2 tcp, 3 tls
	PRIMARY KEY (call_id, local_tag)
) ENGINE=InnoDB;
