-- The test role and database of scripts/test-databases, on each PostgreSQL of
-- tests/docker-compose.yml (run once, when the container's cluster is created).
CREATE ROLE jackal_test LOGIN PASSWORD 'jackal-test-pw-1';
CREATE DATABASE jackal_test OWNER jackal_test;
