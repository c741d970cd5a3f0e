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
